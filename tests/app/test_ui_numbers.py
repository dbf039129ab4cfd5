"""The numbers the pages show, not only that they render: heatmap hover boxes, hover texts on the
right markers, and the colour range of each Activations colour mode."""

import io
import math
import re
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

import mtcnn_core as mc
from mtcnn_core import boxes as B
from tests.app.conftest import SAMPLES
from ui.figures import activations as act
from ui.figures import plots

F32 = np.float32
MFS20 = SAMPLES / "cpp" / "faces_at_scales__mfs20.json"  # 1280 x 720: non-square levels


def cell_rule(i: int, scale: float):
    """Semantics 4.2, one scalar at a time: trunc(f32(2i+1) / f32(scale)), trunc(f32(2i+12) / ...)."""
    sc = F32(scale)
    return math.trunc(float(F32(F32(2 * i + 1) / sc))), math.trunc(float(F32(F32(2 * i + 12) / sc)))


def test_heatmap_hover_box_of_every_cell_is_the_cpp_rule():
    trace = mc.Trace.load(MFS20)
    double_differs = 0
    for level in trace.scales:
        h, w = level.heatmap_height, level.heatmap_width
        assert plots.display_factor((h, w)) == 1, "every cell has its own hover box"
        prob = np.zeros((h, w), F32)
        custom = np.asarray(plots.heatmap_figure(prob, level.scale, 0.6).data[0].customdata)
        assert custom.shape == (h, w, 4)
        xs = np.array([cell_rule(c, level.scale) for c in range(w)])
        ys = np.array([cell_rule(r, level.scale) for r in range(h)])
        want = np.empty((h, w, 4), np.int64)
        want[..., 0], want[..., 2] = xs[None, :, 0], xs[None, :, 1]
        want[..., 1], want[..., 3] = ys[:, None, 0], ys[:, None, 1]
        assert np.array_equal(custom, want), f"level {level.index}"
        # the core's own proposals at t1 = 0: cell (r, c) -> box (x1, y1, x2 - x1, y2 - y1)
        boxes, cells = B.generate_boxes(np.ones((h, w), F32), level.scale, 0.0)
        got = custom[cells[:, 0], cells[:, 1]]
        assert np.array_equal(got[:, :2], boxes[:, :2]) and np.array_equal(got[:, 2:] - got[:, :2], boxes[:, 2:])
        double_differs += int(np.sum(np.trunc((2 * np.arange(w) + 1) / level.scale) != xs[:, 0]))
    assert double_differs, "float32 and double agree on every cell here: the case would test nothing"


def test_downsampled_heatmap_hover_spans_its_block():
    prob = np.zeros((700, 900), F32)
    scale = 0.3
    fig = plots.heatmap_figure(prob, scale, 0.6)
    k = plots.display_factor(prob.shape)
    custom = np.asarray(fig.data[0].customdata)
    assert k > 1 and custom.shape == (math.ceil(700 / k), math.ceil(900 / k), 4)
    for R, C in [(0, 0), (3, 7), (custom.shape[0] - 1, custom.shape[1] - 1)]:
        r0, c0 = R * k, C * k
        r1, c1 = min(r0 + k, 700) - 1, min(c0 + k, 900) - 1
        assert custom[R, C].tolist() == [
            cell_rule(c0, scale)[0],
            cell_rule(r0, scale)[0],
            cell_rule(c1, scale)[1],
            cell_rule(r1, scale)[1],
        ]


# ---- hover texts sit on their own box -----------------------------------------------------------
@pytest.fixture(scope="module")
def run():
    img = mc.load_image(SAMPLES / "astronaut.png")
    trace = mc.detect(img, min_face_size=40)
    return SimpleNamespace(sha="astronaut-test", rgb=np.ascontiguousarray(img[..., ::-1]), trace=trace)


def hover_trace(fig):
    (sc,) = [d for d in fig.data if d.type == "scatter" and d.text is not None and d.mode == "markers"]
    return np.asarray(sc.x, float), np.asarray(sc.y, float), list(sc.text)


def on_outline(box, px, py) -> bool:
    """Whether (px, py) lies on the outline of box (x, y, w, h)."""
    x, y, w, h = (float(v) for v in box)
    inside = x <= px <= x + w and y <= py <= y + h
    return inside and (px in (x, x + w) or py in (y, y + h))


def test_pyramid_hover_texts_describe_the_box_under_them(run):
    # every hover point sits on the outline of the box its text names, with that box's numbers
    from ui.views import pyramid_view

    level = max(run.trace.scales, key=lambda s: len(s.kept))
    assert len(level.kept) >= 2
    x, y, texts = hover_trace(pyramid_view.proposals_figure(run, level))
    b, s = level.kept.boxes, level.kept.scores
    assert len(texts) == 8 * len(b)  # 8 points on each box's outline
    named = set()
    for k, t in enumerate(texts):
        m = re.match(r"kept #(\d+): P=([0-9.e-]+)<br>x=(\d+) y=(\d+) w=(\d+) h=(\d+)", t)
        i = int(m.group(1))
        named.add(i)
        assert on_outline(b[i], x[k], y[k]), (k, t)
        assert F32(m.group(2)) == s[i], (k, t)  # full precision: the float32 itself
        assert [int(v) for v in m.groups()[2:]] == [int(round(float(v))) for v in b[i]], (k, t)
    assert named == set(range(len(b)))


@pytest.mark.parametrize("stage", ["PNet merged", "RNet kept", "ONet kept"])
def test_cascade_hover_texts_describe_the_box_under_them(run, stage):
    from ui.figures import cascade_model as cm
    from ui.views import cascade_view

    sb = cm.stage_boxes(run.trace, stage)
    assert len(sb) >= 2
    x, y, texts = hover_trace(cascade_view.stage_figure(run, sb))
    assert len(texts) == 8 * len(sb)
    b = sb.boxes.astype(float)
    scores = set()
    for k, t in enumerate(texts):
        m = re.match(r"#(\d+): .* ([0-9.e-]+)<br>", t)
        i = int(m.group(1))
        assert on_outline(b[i], x[k], y[k]), (k, t)
        assert F32(m.group(2)) == sb.scores[i] and cm.fate_text(sb, i) in t, (k, t)
        scores.add(m.group(2))
    assert len(scores) > 1


# ---- Activations colour modes ---------------------------------------------------------------
@pytest.fixture(scope="module")
def pnet_outputs():
    from mtcnn_core.cascade import pnet_input, pyramid

    img = mc.load_image(SAMPLES / "astronaut.png")
    level = pyramid(*img.shape[:2], 60, 0.709)[3]
    return mc.load_models().pnet.forward(pnet_input(img, level), return_all=True)


def test_colour_ranges_of_each_mode(pnet_outputs):
    outs = pnet_outputs
    g_lo, g_hi = act.value_range(outs)
    for i, out in enumerate(outs):
        maps = act.as_maps(out).astype(np.float64)
        lo, hi = maps.min(), maps.max()
        per_map = act.normalise(maps, "per map")
        for m, n in zip(maps, per_map):
            if m.max() > m.min():
                assert n.min() == 0 and n.max() == 1
        per_layer = act.normalise(maps, "per layer")
        assert per_layer.min() == 0 and per_layer.max() == 1
        glob = act.normalise(maps, "global", (g_lo, g_hi))
        assert np.allclose([glob.min(), glob.max()], [(lo - g_lo) / (g_hi - g_lo), (hi - g_lo) / (g_hi - g_lo)])
    # the global scale is not the per-layer one: some layer spans only part of it
    spans = [act.normalise(act.as_maps(o), "global", (g_lo, g_hi)) for o in outs]
    assert any(s.max() - s.min() < 0.9 for s in spans)


@pytest.mark.parametrize("mode", act.COLOUR_MODES)
def test_the_page_picture_uses_the_chosen_scale(pnet_outputs, mode):
    from ui.figures import imaging
    from ui.views import activations_view

    outs = pnet_outputs
    g = act.value_range(outs)
    grange = g if mode == "global" else None
    narrow = next(
        i
        for i, o in enumerate(outs)  # a layer spanning part of the global range
        if np.ptp(act.normalise(act.as_maps(o), "global", g)) < 0.9 and act.as_maps(o).shape[0] > 1
    )
    for i in sorted({0, narrow, len(outs) - 1}):
        png = activations_view.feature_grid_png(f"test-{mode}", "PNet", i, mode, outs)
        want = act.upscale(act.tile(act.normalise(act.as_maps(outs[i]), mode, grange)))
        assert png == imaging.display_png(want, nearest=True), (mode, i)
        assert np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).ndim == 3
    # on that layer the three modes give three different pictures
    pics = [act.tile(act.normalise(act.as_maps(outs[narrow]), m, g)) for m in act.COLOUR_MODES]
    assert not any(np.array_equal(a, b) for k, a in enumerate(pics) for b in pics[k + 1 :])
