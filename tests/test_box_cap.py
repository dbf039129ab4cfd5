"""The optional box cap (box_cap.py): what it keeps is a prefix of the exact NMS result, the trace
says where it cut, None keeps the C++'s behaviour, and the stage cache keeps capped and exact
runs apart. Real data: the bundled faces_at_scales photo at 640x480 with t1=t2=t3=0, where every
PNet cell is a candidate (the issue's slow case)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import mtcnn_core as mc
from mtcnn_core import box_cap
from mtcnn_core.cascade import NMS_MERGE, NMS_SCALE, _concat
from mtcnn_core.stage_cache import StageCache
from mtcnn_core.trace import CAPPED, load_any
from tests.conftest import ROOT

ZERO = dict(min_face_size=30, t1=0.0, t2=0.0, t3=0.0)


@pytest.fixture(scope="module")
def photo():
    return cv2.resize(cv2.imread(str(ROOT / "sample_images" / "faces_at_scales.png")), (640, 480))


@pytest.fixture(scope="module")
def exact(photo):
    return mc.detect(photo, cache=False, **ZERO)


def tie_cut(scores) -> int:
    """A cap that ends inside the largest group of equal scores (in the NMS's visiting order), so
    the boxes kept and cut differ only by the tie rule; 0 if the scores have no ties."""
    s = scores[box_cap.visit_order(scores)]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    sizes = np.diff(np.r_[starts, len(s)])
    g = int(np.argmax(sizes))
    return int(starts[g] + sizes[g] // 2) if sizes[g] > 1 else 0


def nms_inputs(trace):
    """(name, boxes, scores, threshold) of every NMS of PNet's stage in a trace."""
    out = [(f"scale {s.index}", s.candidates.boxes, s.candidates.scores, NMS_SCALE) for s in trace.scales]
    merged = _concat([s.kept for s in trace.scales])
    return out + [("merged", merged.boxes, merged.scores, NMS_MERGE)]


def test_capped_nms_keeps_a_prefix_of_the_exact_nms(exact):
    tried_ties = 0
    for name, boxes, scores, thr in nms_inputs(exact):
        full, _ = mc.boxes.nms(boxes, scores, thr)
        caps = {len(scores) // 3, len(scores) // 2, tie_cut(scores)} - {0}
        tried_ties += tie_cut(scores) > 0
        for cap in caps:
            kept, sup, cut = box_cap.capped_nms(boxes, scores, thr, cap=cap)
            assert cut.sum() == len(scores) - cap, name
            assert kept.tolist() == full[: len(kept)].tolist(), (name, cap)
            # ... and exactly the exact result's boxes among the first `cap` visited
            first = set(box_cap.visit_order(scores)[:cap].tolist())
            assert kept.tolist() == [i for i in full.tolist() if i in first], (name, cap)
            assert (sup[cut] == -1).all()
    assert tried_ties >= 3  # the real scores have ties the cap had to split


def test_detect_records_where_the_cap_cut(exact, photo):
    cap = 2000
    tr = mc.detect(photo, cache=False, box_cap=cap, **ZERO)
    assert tr.params["box_cap"] == cap and "box_cap" not in exact.params
    first = tr.cap_cuts[0]
    assert first == {"stage": "pnet_scale", "index": 0, "boxes": exact.scales[0].num_above_t1, "processed": cap}
    big = [s.index for s in exact.scales if s.num_above_t1 > cap]
    assert [c["index"] for c in tr.cap_cuts if c["stage"] == "pnet_scale"] == big
    for i in big:  # each cut level keeps a prefix of its exact proposals
        k = len(tr.scales[i].kept)
        assert np.array_equal(tr.scales[i].kept.boxes, exact.scales[i].kept.boxes[:k])
        assert (tr.scales[i].nms.fate == CAPPED).sum() == exact.scales[i].num_above_t1 - cap
    assert len(tr.rnet.input) <= cap and len(tr.onet.input) <= cap
    back = load_any(tr.to_json().encode(), "capped.json")
    assert back.cap_cuts == tr.cap_cuts and back.params["box_cap"] == cap
    assert json.loads(tr.to_json())["mtcnn_lens"]["box_cap_cuts"][0]["boxes"] == first["boxes"]


def test_a_cap_that_cuts_nothing_is_the_exact_run(exact, photo):
    most = max(max(s.num_above_t1 for s in exact.scales), sum(len(s.kept) for s in exact.scales))
    tr = mc.detect(photo, cache=False, box_cap=most, **ZERO)
    assert tr.cap_cuts == []
    a, b = json.loads(tr.to_json()), json.loads(exact.to_json())
    for d in (a, b):
        d.pop("timing_ms"), d["params"].pop("box_cap", None)
    assert a == b


def test_traces_without_the_field_load(exact):
    bundled = load_any(ROOT / "sample_images" / "cpp" / "astronaut.json")
    assert bundled.cap_cuts == [] and exact.cap_cuts == []
    assert "box_cap_cuts" not in json.loads(exact.to_json()).get("mtcnn_lens", {})


def test_stage_cache_keeps_capped_and_exact_runs_apart(exact, photo):
    cache = StageCache(512 * 2**20)
    capped = mc.detect(photo, cache=cache, box_cap=1500, **ZERO)
    again = mc.detect(photo, cache=cache, **ZERO)
    assert capped.cap_cuts and again.cap_cuts == []
    assert np.array_equal(again.detections.boxes, exact.detections.boxes)
    assert [len(s.kept) for s in again.scales] == [len(s.kept) for s in exact.scales]


@pytest.mark.parametrize("bad", [0, -3, True, 2.5, "10"])
def test_bad_cap_is_refused(photo, bad):
    with pytest.raises(ValueError, match="box_cap"):
        mc.detect(photo[:100, :100], cache=False, box_cap=bad)


def test_a_capped_cells_journey_says_so(photo):
    from mtcnn_core.explain import journey_from_cell

    tr = mc.detect(photo, cache=False, box_cap=2000, **ZERO)
    level = tr.scales[0]
    k = int(np.flatnonzero(level.nms.fate == CAPPED)[0])
    row, col = (int(v) for v in level.cells[k])
    steps = journey_from_cell(tr, 0, row, col)
    assert [s.outcome for s in steps] == ["kept", "cut by the box cap"]
    assert "2000 highest-scored" in steps[-1].text and "C++ would have processed it" in steps[-1].text
    kept = int(level.nms.order[0])  # a kept cell still walks the whole cascade
    steps = journey_from_cell(tr, 0, *(int(v) for v in level.cells[kept]))
    assert len(steps) > 2
