"""mtcnn_core.explain: every explained number is the detector's own, bit for bit.

On the C++ reference runs (the bundled samples, and ../shared's 13 more images when present),
sampled PNet cells and RNet/ONet boxes are explained and compared with the C++ trace (heatmaps,
scores, corrections, boxes at the next stage) and with this run's trace; the conv1 walk-through's
last running sum equals the layer output; the occlusion map is deterministic and its unoccluded
score is the stage score.
"""

import numpy as np
import pytest
from conftest import reference_cases

import mtcnn_core as mc
from mtcnn_core import boxes as B
from mtcnn_core import explain as E
from mtcnn_core.kernels import arithmetic, openblas

MODELS = mc.load_models()
_images = {}


def bits(a):
    return np.asarray(a, np.float32).view(np.uint32)


def same(a, b) -> bool:
    return np.array_equal(bits(a), bits(b))


def run(json_path, image_path, build):
    ref = mc.Trace.load(json_path)
    if image_path not in _images:
        _images[image_path] = mc.load_image(image_path)
    p = ref.params
    trace = mc.detect(
        _images[image_path],
        models=MODELS,
        cpp_build=build,
        min_face_size=p["min_face_size"],
        t1=p["t1"],
        t2=p["t2"],
        t3=p["t3"],
        pyramid_factor=p["pyramid_factor"],
    )
    return ref, trace, _images[image_path]


def sample_cells(trace, rng):
    """(level, row, col): the strongest cell of a level, a proposal, a cell below t1, a corner."""
    out = []
    for lv in rng.choice(len(trace.scales), size=min(2, len(trace.scales)), replace=False):
        s = trace.scales[int(lv)]
        out.append((s.index, *np.unravel_index(int(np.argmax(s.heatmap)), s.heatmap.shape)))
        if len(s.cells):
            out.append((s.index, *s.cells[rng.integers(len(s.cells))]))
        low = np.argwhere(s.heatmap < np.float32(trace.params["t1"]))
        out.append((s.index, *low[rng.integers(len(low))]))
        out.append((s.index, s.heatmap.shape[0] - 1, s.heatmap.shape[1] - 1))
    return [(int(a), int(b), int(c)) for a, b, c in out]


def check_journey_against_cpp(ref, steps, corrected_rnet=None):
    """Where a journey says a box moved on to the next stage as #q, the C++'s next stage has the box
    the core's own correction/squaring makes of it at that index."""
    for a, b in zip(steps, steps[1:]):
        if a.stage.startswith("NMS 0.7 across") and a.outcome == "kept":
            assert same(ref.merged.boxes[b.index], a.box)  # same proposal, same order
        if a.stage.startswith("RNet NMS") and a.outcome == "kept" and corrected_rnet is not None:
            assert same(ref.onet.input.boxes[b.index], B.rectify(corrected_rnet[None])[0])


def explain_run(ref, trace, image, build, seed):
    rng = np.random.default_rng(seed)
    arith = arithmetic("exact", build)
    cpp_heat = {s.index: s.heatmap for s in ref.scales if s.heatmap is not None}
    layers = {}
    n_checked = 0
    for level, row, col in sample_cells(trace, rng):
        if level not in layers:
            x = mc.pnet_input(image, trace.scales[level])
            layers[level] = (x, E.pnet_layers(MODELS.pnet, x, arith))
        x, outs = layers[level]
        pick = (int(rng.integers(10)), int(rng.integers(10)), int(rng.integers(10)))
        ex = E.explain_cell(trace, level, row, col, x, outs, MODELS.pnet, pick)
        assert same(ex.prob, trace.scales[level].heatmap[row, col])
        if level in cpp_heat:
            assert same(ex.prob, cpp_heat[level][row, col])
        assert same(ex.regression, ex.trace_regression)
        r0, r1, c0, c1 = ex.window  # 12x12, or cut where the last pooling window is partial
        assert (r1 - r0 == 12 or r1 == x.shape[2] == r0 + 11) and (c1 - c0 == 12 or c1 == x.shape[3] == c0 + 11)
        assert ex.conv.equal and len(ex.conv.terms) == 28 and ex.conv.terms[-1].channel == -1
        assert ex.slices[-1].values.shape == (6, 1, 1)
        assert (ex.journey[0].outcome == "kept") == (ex.prob >= np.float32(trace.params["t1"]))
        if ex.journey[0].outcome == "kept":
            assert same(ex.journey[0].box, ex.box)
        check_journey_against_cpp(ref, ex.journey)
        n_checked += 1
    for net_name, st, cst in (("RNet", trace.rnet, ref.rnet), ("ONet", trace.onet, ref.onet)):
        if not len(st.input):
            continue
        net = MODELS.network(net_name)
        for i in {0, len(st.input) - 1, int(rng.integers(len(st.input)))}:
            ex = E.explain_box(trace, image, net_name, i, net, arith)
            assert same(ex.prob, cst.scores[i]) and same(ex.prob, st.scores[i])
            assert same(ex.regression, cst.corrections[i])
            assert ex.fc1_check
            first = ex.layers[0].values
            walk = E.conv_walkthrough(
                ex.x[0],
                net.layers[0],
                first,
                int(rng.integers(first.shape[0])),
                int(rng.integers(first.shape[1])),
                int(rng.integers(first.shape[2])),
                build,
            )
            assert walk.equal
            check_journey_against_cpp(ref, ex.journey, ex.corrected if net_name == "RNet" else None)
            if net_name == "ONet" and ex.journey[-1].stage == "final":
                d = ex.journey[-1].index
                assert same(B.final_fix(ex.corrected[None])[0], ref.detections.boxes[d])
            n_checked += 1
    return n_checked


@pytest.mark.parametrize("json_path,image_path", reference_cases("avx512"))
def test_explained_values_equal_the_cpp_trace_avx512(json_path, image_path):
    ref, trace, image = run(json_path, image_path, "avx512")
    assert explain_run(ref, trace, image, "avx512", seed=len(str(json_path))) > 0


@pytest.mark.parametrize("json_path,image_path", reference_cases("avx2")[::3])
def test_explained_values_equal_the_cpp_trace_avx2(json_path, image_path):
    ref, trace, image = run(json_path, image_path, "avx2")
    assert explain_run(ref, trace, image, "avx2", seed=7) > 0


@pytest.mark.parametrize("build", ["avx512", "avx2"])
def test_conv_walkthrough_on_split_outputs_and_every_column_class(build):
    """The AVX2 build sums some outputs as two interleaved chains, by output channel and the
    column's place in the GEMM call: walk outputs of every class, split ones included."""
    image = mc.load_image(reference_cases()[0].values[1])
    x = mc.pnet_input(image, (0.1, 37, 53))
    out = E.pnet_layers(MODELS.pnet, x, arithmetic("exact", build))[0][0]
    ho, wo = out.shape[1:]
    codes = openblas.column_codes(ho * wo)
    splits = 0
    for code in np.unique(codes):
        for q in np.flatnonzero(codes == code)[[0, -1]]:
            for ch in (0, 7, 9):
                w = E.conv_walkthrough(x[0], MODELS.pnet.layers[0], out, ch, int(q // wo), int(q % wo), build)
                assert w.equal, (code, q, ch)
                splits += w.split
                if w.split:
                    assert {t.chain for t in w.terms} == {"even", "odd"}
    assert (splits > 0) == (build == "avx2")


def test_walkthrough_terms_are_in_im2col_order():
    image = mc.load_image(reference_cases()[0].values[1])
    x = mc.pnet_input(image, (0.1, 20, 20))
    out = E.pnet_layers(MODELS.pnet, x)[0][0]
    w = E.conv_walkthrough(x[0], MODELS.pnet.layers[0], out, 2, 3, 4)
    # j = in*kh*kw + c*kh + r: the kernel row r varies fastest, then the column, then the channel
    assert [(t.channel, t.c, t.r) for t in w.terms[:4]] == [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 0)]
    assert w.terms[9].channel == 1 and w.terms[-1].x == 1.0
    assert w.terms[-1].w == float(MODELS.pnet.layers[0].bias[2])
    assert all(t.x == float(x[0, t.channel, 3 + t.r, 4 + t.c]) for t in w.terms[:-1])
    assert w.terms[-1].acc == w.result


def test_occlusion_map_is_deterministic_and_starts_at_the_stage_score():
    image = mc.load_image(reference_cases()[0].values[1])
    trace = mc.detect(image, models=MODELS)
    for net_name, st in (("RNet", trace.rnet), ("ONet", trace.onet)):
        i = int(np.argmax(st.scores))
        x = mc.crop_input(image, st.input.boxes[i], E.NET_INPUT[net_name])
        net = MODELS.network(net_name)
        a = E.occlusion_map(x, net, patch=6, stride=3)
        b = E.occlusion_map(x, net, patch=6, stride=3)
        assert same(a.base, st.scores[i])
        assert same(a.scores, b.scores) and np.array_equal(a.pixel_drop, b.pixel_drop)
        assert a.starts[0] == 0 and a.starts[-1] == x.shape[-1] - 6
        assert a.scores.shape == (len(a.starts), len(a.starts))
        assert np.abs(a.drop).max() > 0  # hiding parts of a face changes the score
        # a patch at one position equals that single occluded crop run through the net alone
        hidden = x.copy()
        hidden[:, :, 3:9, 0:6] = 0
        alone = mc.cascade.box_probability(net.forward(hidden))[0]
        assert same(a.scores[1, 0], alone)
    with pytest.raises(ValueError, match="patch and stride"):
        E.occlusion_map(x, net, patch=0, stride=3)
    with pytest.raises(ValueError, match="patch and stride"):
        E.occlusion_map(x, net, patch=4, stride=99)


def test_output_names():
    assert E.output_names("PNet", 6)[:2] == ["non-face logit", "face logit"]
    onet = E.output_names("ONet", 16)
    assert onet[6] == "landmark x1 (left eye)" and onet[15] == "landmark y5 (right mouth corner)"
    assert E.output_names("RNet", 8)[7] == "output 7"
