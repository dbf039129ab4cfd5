"""Crafted boundary cases of the rules parity rarely sees (semantics 4.2-4.12, 6.7): values exactly
at a threshold, overlaps exactly at each NMS threshold, NMS ties, rne vs trunc vs floor, the sign
of zero, double vs float32. Each case fails if the rule is replaced by its plausible wrong twin."""

import math

import numpy as np
import pytest
from conftest import ROOT

import mtcnn_core as mc
from mtcnn_core import boxes as B
from mtcnn_core import cascade
from mtcnn_core.trace import BELOW_THRESHOLD, KEPT

F32 = np.float32


def bits(a):
    return np.asarray(a, F32).view(np.uint32)


# ---- PNet: cells exactly at f32(t1) (4.2) -------------------------------------------------------
@pytest.mark.parametrize("t1", [0.6, 0.7, 0.5, 0.95])
def test_pnet_cell_exactly_at_f32_t1_is_a_proposal(t1):
    at = F32(t1)
    below = np.nextafter(at, F32(0))
    prob = np.full((4, 5), 0.1, F32)
    prob[1, 2], prob[3, 0], prob[2, 4] = at, below, np.nextafter(at, F32(1))
    boxes, cells = B.generate_boxes(prob, 0.3, t1)
    assert sorted(map(tuple, cells.tolist())) == [(1, 2), (2, 4)]


def test_pnet_threshold_is_compared_in_float32():
    # f32(0.7) < 0.7: a cell holding f32(0.7) passes the C++'s float comparison, not a double one
    assert float(F32(0.7)) < 0.7
    prob = np.full((3, 3), F32(0.7), F32)
    assert len(B.generate_boxes(prob, 0.5, 0.7)[0]) == 9


def test_proposals_are_column_major():
    prob = np.zeros((3, 4), F32)
    prob[[0, 2, 1, 0], [0, 0, 1, 3]] = 1
    _, cells = B.generate_boxes(prob, 1.0, 0.5)
    assert cells.tolist() == [[0, 0], [2, 0], [1, 1], [0, 3]]  # x outer, y inner


def cell_rule(i, scale):
    """Semantics 4.2 literally, one scalar at a time: trunc(f32(2i+1) / f32(scale)), trunc(f32(2i+12) / ...)."""
    sc = F32(scale)
    return math.trunc(float(F32(F32(2 * i + 1) / sc))), math.trunc(float(F32(F32(2 * i + 12) / sc)))


def test_cell_edges_follow_the_float32_rule_where_double_differs():
    # real pyramid scales of a 512 x 512 image at min face 20; some cells' edges differ between a
    # float32 and a double division: the rule must be the float32 one at every index
    levels = cascade.pyramid(512, 512, 20, 0.709)
    differs = 0
    for s, h, w in levels:
        idx = np.arange((w - 12) // 2 + 1)
        x1, x2 = B.cell_edges(idx, s)
        want = np.array([cell_rule(i, s) for i in idx.tolist()])
        assert x1.tolist() == want[:, 0].tolist() and x2.tolist() == want[:, 1].tolist()
        differs += int(np.sum(np.trunc((2 * idx + 1) / s) != want[:, 0]))
    assert differs > 0, "no index where float32 and double differ: the case tests nothing"


# ---- RNet/ONet: scores exactly at t2/t3 (4.10, 4.11) ---------------------------------------------
@pytest.fixture(scope="module")
def astronaut():
    img = mc.load_image(ROOT / "sample_images" / "astronaut.png")
    return img, mc.detect(img, min_face_size=40, t2=0.3, t3=0.3)


def test_rnet_score_exactly_at_t2_passes(astronaut):
    img, base = astronaut
    s = base.rnet.scores
    i = int(np.argmin(np.where(s >= F32(0.3), s, F32(2))))  # a real score, used as t2
    t2 = float(s[i])
    trace = mc.detect(img, min_face_size=40, t2=t2, t3=0.3)
    fate = trace.rnet.filtered.fate
    assert fate[i] != BELOW_THRESHOLD and fate[s == s[i]].tolist().count(BELOW_THRESHOLD) == 0
    assert np.all(fate[s < F32(t2)] == BELOW_THRESHOLD)


def test_onet_score_exactly_at_t3_is_kept_with_its_corrected_box(astronaut):
    img, base = astronaut
    s = base.onet.scores
    order = base.onet.filtered.order
    i = int(order[np.argmin(s[order])])  # the lowest kept ONet score
    t3 = float(s[i])
    trace = mc.detect(img, min_face_size=40, t2=0.3, t3=t3)
    assert trace.onet.filtered.fate[i] == KEPT
    j = trace.onet.filtered.order.tolist().index(i)
    want = B.apply_correction(trace.onet.input.boxes[i : i + 1], trace.onet.corrections[i : i + 1], add1=True)
    assert np.array_equal(bits(trace.onet.kept.boxes[j]), bits(want[0]))


def test_threshold_filter_at_exactly_t():
    scores = np.array([0.7, np.nextafter(F32(0.7), F32(0)), 0.8], F32)  # f32(0.7), one ulp below, above
    boxes = np.array([[0, 0, 10, 10], [100, 0, 10, 10], [200, 0, 10, 10]], F32)
    filtered, kept = cascade._filter(3, scores, 0.7, boxes, 0.7, "iou")
    assert sorted(kept.tolist()) == [0, 2] and filtered.fate[1] == BELOW_THRESHOLD


# ---- NMS: overlaps exactly at each threshold, ties, rect rounding (4.5) ------------------------
def rects(*r):
    return np.array(r, F32)


@pytest.mark.parametrize(
    "thr,mode,other,more",
    [
        (cascade.NMS_SCALE, "iou", (0, 0, 10, 5), (0, 0, 10, 6)),  # IoU 50 / 100 = 0.5 exactly
        (cascade.NMS_MERGE, "iou", (0, 0, 10, 7), (0, 0, 10, 8)),  # 70 / 100: f32(0.7), > 0.7 in double
        (cascade.NMS_RNET, "iou", (0, 3, 10, 7), (0, 2, 10, 8)),
        (cascade.NMS_ONET, "min", (3, 0, 10, 10), (2, 0, 10, 10)),
    ],
)  # 70 / min(100, 100)
def test_overlap_exactly_at_the_threshold_keeps_both(thr, mode, other, more):
    boxes = rects((0, 0, 10, 10), other)
    scores = np.array([0.9, 0.8], F32)
    ov = B.overlaps(B.to_int_rects(boxes[:1]), B.to_int_rects(boxes[1:]), mode)[0, 0]
    assert ov == F32(thr)
    order, by = B.nms(boxes, scores, thr, mode)
    assert order.tolist() == [0, 1] and by.tolist() == [-1, -1]
    # one pixel more overlap: suppressed
    order, by = B.nms(rects((0, 0, 10, 10), more), scores, thr, mode)
    assert order.tolist() == [0] and by.tolist() == [-1, 0]


def test_nms_thresholds_are_the_cpp_constants():
    assert (cascade.NMS_SCALE, cascade.NMS_MERGE, cascade.NMS_RNET, cascade.NMS_ONET) == (0.5, 0.7, 0.7, 0.7)


def test_nms_ties_go_to_the_highest_index_first():
    boxes = rects((0, 0, 10, 10), (1, 0, 10, 10), (50, 50, 10, 10), (0, 1, 10, 10))
    scores = np.array([1.0, 1.0, 0.5, 1.0], F32)  # saturated probabilities tie
    order, by = B.nms(boxes, scores, 0.5)
    assert order.tolist() == [3, 2] and by.tolist() == [3, 3, -1, -1]


def test_nms_rounds_rects_to_nearest_even():
    a = (0, 0, 10, 10)
    thr = 0.4
    # x = 4.6: rne 5 -> IoU 50/150 (kept); trunc 4 -> 60/140 (suppressed)
    assert B.nms(rects(a, (4.6, 0, 10, 10)), np.array([0.9, 0.8], F32), thr)[0].tolist() == [0, 1]
    # x = 4.5: rne 4 (even) -> 60/140 (suppressed); rounding halves up gives 5 (kept)
    assert B.nms(rects(a, (4.5, 0, 10, 10)), np.array([0.9, 0.8], F32), thr)[0].tolist() == [0]
    assert B.to_int_rects(rects((0.5, 1.5, 2.5, -0.5))).tolist() == [[0, 2, 2, 0]]


def test_nan_overlap_of_empty_boxes_keeps_both():
    # two empty boxes: 0 / 0 is NaN, and NaN > thr is false: the C++ keeps the box
    boxes = rects((5, 5, 0, 0), (5, 5, 0, 0))
    for mode in ("iou", "min"):
        assert np.isnan(B.overlaps(B.to_int_rects(boxes[:1]), B.to_int_rects(boxes[1:]), mode)[0, 0])
        assert B.nms(boxes, np.array([0.9, 0.8], F32), 0.5, mode)[0].tolist() == [0, 1]


# ---- apply_correction, rectify, final fix (4.6, 4.7, 4.12) ---------------------------------------
def correction_rule(box, c, add1):
    """Semantics 4.6 one scalar at a time in float32."""
    X, Y, Wd, Ht = (int(np.rint(float(v))) for v in box)
    Wd, Ht = Wd + add1, Ht + add1
    nx1 = F32(F32(X) + F32(F32(c[0]) * F32(Wd)))
    ny1 = F32(F32(Y) + F32(F32(c[1]) * F32(Ht)))
    nx2 = F32(F32(X + Wd) + F32(F32(Wd) * F32(c[2])))
    ny2 = F32(F32(Y + Ht) + F32(F32(Ht) * F32(c[3])))
    return [nx1, ny1, F32(nx2 - nx1), F32(ny2 - ny1)]


@pytest.mark.parametrize("add1", [False, True])
def test_apply_correction_equals_the_scalar_rule(add1):
    rng = np.random.default_rng(7)
    boxes = rng.uniform(-20, 300, (300, 4)).astype(F32)
    boxes[:100] = np.floor(boxes[:100]) + F32(0.5)  # halves: rne, not trunc or round-up
    corr = rng.normal(0, 0.2, (300, 4)).astype(F32)
    got = B.apply_correction(boxes, corr, add1)
    want = np.array([correction_rule(b, c, add1) for b, c in zip(boxes, corr)], F32)
    assert np.array_equal(bits(got), bits(want))


def test_rectify_truncates_toward_zero_with_a_positive_zero():
    boxes = rects((-10.3, -7.9, 5, 9), (-0.25, 3.0, 4, 4), (2.0, -0.75, 6, 6), (7.6, 2.2, 20.5, 11))
    got = B.rectify(boxes)
    # (-10.3 + 0.5*(5-9), -7.9) -> (-12.3, -7.9) -> (-12, -7); -0.25 and -0.75 -> +0.0
    assert got.tolist() == [[-12, -7, 9, 9], [0, 3, 4, 4], [2, 0, 6, 6], [7, -2, 20, 20]]
    assert not np.signbit(got[got == 0]).any()


def test_rectify_offset_in_double_on_the_longer_side():
    rng = np.random.default_rng(3)
    boxes = rng.uniform(-50, 400, (500, 4)).astype(F32)
    got = B.rectify(boxes)
    for b, g in zip(boxes, got):
        x, y, w, h = (float(v) for v in b)
        m = float(max(F32(w), F32(h)))
        nx = F32(x + 0.5 * float(F32(F32(w) - F32(m))))
        ny = F32(y + 0.5 * float(F32(F32(h) - F32(m))))
        assert g.tolist() == [math.trunc(float(nx)), math.trunc(float(ny)), math.trunc(m), math.trunc(m)]


def test_final_fix_is_double_then_float():
    rng = np.random.default_rng(11)
    boxes = rng.uniform(0, 500, (2000, 4)).astype(F32)
    got = B.final_fix(boxes)
    want = np.array(
        [
            [
                F32(float(w) * -0.0075 + float(x)),
                F32(float(h) * 0.2459 + float(y)),
                F32(1.0323 * float(w)),
                F32(0.7751 * float(h)),
            ]
            for x, y, w, h in boxes
        ],
        F32,
    )
    assert np.array_equal(bits(got), bits(want))


# ---- crops and pyramid sizes ----------------------------------------------------------------
def test_pyramid_levels_follow_the_double_rule():
    for h, w, mfs in [(512, 512, 20), (300, 451, 60), (97, 1000, 12), (60, 60, 60)]:
        levels = cascade.pyramid(h, w, mfs, 0.709)
        n = math.floor(math.log(mfs / min(h, w)) / math.log(0.709)) + 1
        assert len(levels) == n
        for i, (s, lh, lw) in enumerate(levels):
            assert s == (12.0 / mfs) * math.pow(0.709, i)
            assert (lh, lw) == (math.ceil(h * s), math.ceil(w * s))


# ---- probabilities (4.1, 4.10): the exp and the division parity may not see (6.7) --------------
def test_pnet_probability_uses_opencvs_exp_in_float32():
    from mtcnn_core.cvmath import cv_exp32

    rng = np.random.default_rng(1)
    out = rng.normal(0, 4, (6, 300, 40)).astype(F32)
    d = (out[0] - out[1]).astype(F32)
    want = np.array([F32(1) / (F32(1) + cv_exp32(np.array([v], F32))[0]) for v in d.ravel()], F32)
    got = cascade.face_probability(out)
    assert np.array_equal(bits(got).ravel(), bits(want))
    assert not np.array_equal(bits(F32(1) / (F32(1) + np.exp(d))), bits(got)), "np.exp would pass too"


def test_rnet_onet_probability_divides_in_double():
    from mtcnn_core.cvmath import glibc_expf

    rng = np.random.default_rng(2)
    out = rng.normal(0, 4, (20000, 6)).astype(F32)
    e = glibc_expf((out[:, 0] - out[:, 1]).astype(F32))
    want = np.array([F32(1.0 / (1.0 + float(v))) for v in e], F32)
    got = cascade.box_probability(out)
    assert np.array_equal(bits(got), bits(want))
    assert not np.array_equal(bits(F32(1) / (F32(1) + e)), bits(got)), "a float32 division would pass too"
    ne = np.exp((out[:, 0] - out[:, 1]).astype(F32))
    assert not np.array_equal(bits(1.0 / (1.0 + ne.astype(np.float64))), bits(got)), "numpy's exp would pass"
