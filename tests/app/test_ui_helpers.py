"""Unit tests of the pure ui/ helpers (no browser, no Streamlit runtime)."""

import numpy as np
import plotly.graph_objects as go
import pytest

from mtcnn_core.trace import Trace
from tests.app.conftest import SAMPLES
from ui import samples
from ui.figures import draw, plots, stages
from ui.views.compare_view import mismatch_messages

CPP = SAMPLES / "cpp"


@pytest.fixture(scope="module")
def ref():
    return Trace.load(CPP / "faces_at_scales.json")


def test_cell_boxes_follow_cpp_formula():
    b = plots.cell_boxes((3, 4), 0.2)
    # x1 = trunc((2x+1)/s), x2 = trunc((2x+12)/s) in float32
    assert b[0, 0].tolist() == [5, 5, 60, 60]
    assert b[2, 3].tolist() == [
        int(np.float32(7) / np.float32(0.2)),
        int(np.float32(5) / np.float32(0.2)),
        int(np.float32(18) / np.float32(0.2)),
        int(np.float32(16) / np.float32(0.2)),
    ]


def test_cell_boxes_match_cpp_kept_boxes(ref):
    """Every C++ per-scale box is the box of some cell of that scale's heatmap."""
    for s in ref.scales:
        if s.heatmap is None or not len(s.kept):
            continue
        cells = plots.cell_boxes(s.heatmap.shape, s.scale).reshape(-1, 4)
        xywh = np.c_[cells[:, :2], cells[:, 2:] - cells[:, :2]].astype(np.float32)
        rows = {tuple(r) for r in xywh.tolist()}
        assert all(tuple(b) in rows for b in s.kept.boxes.tolist()), s.index


def test_heatmap_figure_has_t1_contour_and_box_hover(ref):
    s = ref.scales[0]
    fig = plots.heatmap_figure(s.heatmap, s.scale, 0.6)
    assert isinstance(fig.data[0], go.Heatmap)
    assert np.asarray(fig.data[0].customdata).shape == s.heatmap.shape + (4,)
    assert "x1=" in fig.data[0].hovertemplate
    assert any(isinstance(t, go.Contour) and t.contours.start == 0.6 for t in fig.data)


def test_box_outline_closes_each_box():
    xs, ys = plots.box_outline([[1, 2, 3, 4], [0, 0, 1, 1]])
    assert xs[:5].tolist() == [1, 4, 4, 1, 1] and ys[:5].tolist() == [2, 2, 6, 6, 2]
    assert np.isnan(xs[5]) and np.isnan(ys[5])  # a gap between boxes
    assert len(xs) == 12


def test_image_figure_coordinates():
    rgb = np.zeros((50, 80, 3), np.uint8)
    uri, pixel = plots.image_data_uri(rgb)
    assert uri.startswith("data:image/jpeg;base64,") and pixel == 1.0
    fig = plots.image_figure(uri, pixel, 80, 50)
    assert list(fig.layout.yaxis.range) == [50, 0]
    plots.add_scored_boxes(fig, [[1, 1, 5, 5], [10, 10, 5, 5]], [0.1, 0.95], "x")
    assert len(fig.data) == 3


def test_big_image_is_shrunk_for_display():
    uri, pixel = plots.image_data_uri(np.zeros((100, 3200, 3), np.uint8))
    assert pixel == 2.0


def test_stage_counts_and_funnel(ref):
    counts = stages.stage_counts(ref)
    assert counts[0] == ("PNet ≥ t1", sum(s.num_above_t1 for s in ref.scales))
    assert counts[-1] == ("final", len(ref.detections))
    fig = plots.funnel_figure(counts, current="final")
    assert list(fig.data[0].x) == [c[1] for c in counts]


def test_proposals_per_scale_chart(ref):
    fig = plots.proposals_per_scale_figure(ref.scales, 1)
    assert list(fig.data[0].y) == [s.num_above_t1 for s in ref.scales]


def test_draw_boxes_and_landmarks():
    rgb = np.zeros((100, 100, 3), np.uint8)
    im = draw.draw_boxes(rgb, [[10, 10, 50, 50]], [0.99])
    a = np.asarray(im)
    assert a[60, 30].tolist() == list(draw.FACE_COLOUR)  # bottom edge
    draw.draw_landmarks(im, np.array([[20, 30, 40, 50, 60, 20, 20, 30, 40, 40]]))
    assert draw.png_bytes(im)[:4] == b"\x89PNG"


def test_crop_preview_undoes_normalisation():
    x = np.full((1, 3, 24, 24), (200 - 127.5) * 0.0078125, np.float32)
    im = draw.crop_preview(x, scale=2)
    assert im.size == (48, 48) and np.asarray(im)[0, 0].tolist() == [200, 200, 200]


def test_cpp_trace_choice_follows_parameters():
    assert samples.cpp_trace_path("astronaut.png", samples.DEFAULT_PARAMS).name == "astronaut.json"
    assert samples.cpp_trace_path("astronaut.png", samples.MFS20_PARAMS).name == "astronaut__mfs20.json"
    assert samples.cpp_trace_path("astronaut.png", {**samples.DEFAULT_PARAMS, "t2": 0.5}) is None
    assert samples.sample_names()[0] == "faces_at_scales.png"


def test_mismatch_messages(ref):
    assert mismatch_messages((720, 1280), samples.DEFAULT_PARAMS, ref) == []
    msgs = mismatch_messages((512, 512), {**samples.DEFAULT_PARAMS, "t1": 0.5}, ref)
    assert any("1280×720" in m for m in msgs) and any("t1" in m for m in msgs)


def test_timing_rows_put_total_last(ref):
    rows = stages.timing_rows(ref)
    assert rows[-1]["stage"] == "total"


def test_colour_scale_avoids_streamlit_placeholders():
    stops = plots.safe_colorscale("Magma")
    assert stops[0][1] == "rgb(0,0,4)" and not any(c.startswith("#") for _, c in stops)


def test_big_heatmap_figure_is_downsampled_keeping_peaks_and_boxes():
    """A 7000x7000-pixel image's first PNet map (about 3500x3500 cells) ships a few MB, not
    hundreds: blocks keep their maximum and the hover box spans the block."""
    import json

    h, w = 3495, 3495
    prob = np.zeros((h, w), np.float32)
    prob[1234, 2345] = 0.97
    fig = plots.heatmap_figure(prob, 0.5, 0.6)
    z = np.asarray(fig.data[0].z)
    k = plots.display_factor((h, w))
    assert z.size <= plots.MAX_HEATMAP_CELLS and z.shape == (-(-h // k), -(-w // k))
    assert z.max() == np.float32(0.97) and z[1234 // k, 2345 // k] == np.float32(0.97)
    cd = np.asarray(fig.data[0].customdata)
    full = plots.cell_boxes((h, w), 0.5)
    assert tuple(cd[0, 0]) == tuple(full[0, 0, :2]) + tuple(full[k - 1, k - 1, 2:])
    assert len(json.dumps(fig.to_plotly_json(), default=lambda a: np.asarray(a).tolist())) < 20e6
    d = np.zeros((h, w))
    d[5, 7] = -0.5
    dz = np.asarray(plots.diff_heatmap_figure(d, "x").data[0].z)
    assert dz.size <= plots.MAX_HEATMAP_CELLS and dz.min() == -0.5
