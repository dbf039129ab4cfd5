"""The stage-by-stage C++ vs Python view's pure parts: categories, figure, tables, units."""

import copy

import numpy as np
import pytest

import mtcnn_core as mc
from tests.app.conftest import SAMPLES
from ui.figures import stage_compare as sc
from ui.figures.plots import image_figure


@pytest.fixture(scope="module")
def trace():
    return mc.detect(mc.load_image(SAMPLES / "astronaut.png"), min_face_size=20, t1=0.5)


def perturbed(trace, stage="rnet"):
    """A copy whose stage's kept boxes have one box moved 3 px, one dropped, one added."""
    t = copy.deepcopy(trace)
    kept = getattr(t, stage).kept
    boxes, scores = kept.boxes.copy(), kept.scores.copy()
    corr = None if kept.corrections is None else kept.corrections.copy()
    boxes[0, 0] += 3.0  # moved
    keep = np.arange(len(boxes)) != 1  # box 1 dropped: only in the reference
    boxes, scores = boxes[keep], scores[keep]
    corr = None if corr is None else corr[keep]
    boxes = np.vstack([boxes, [[5000, 5000, 40, 40]]]).astype(np.float32)  # only in Python
    scores = np.append(scores, np.float32(0.9))
    corr = None if corr is None else np.vstack([corr, np.zeros((1, 4), np.float32)])
    getattr(t, stage).kept = mc.BoxSet(boxes, scores, corr)
    return t


def test_categories_count_each_kind_on_a_perturbed_trace(trace):
    assert len(trace.rnet.kept) >= 4
    cand = perturbed(trace)
    rep = mc.compare(trace, cand)
    assert sc.default_stage(rep) == "rnet.kept"  # the first divergent stage
    cats = sc.categorise(rep.stage("rnet.kept"), tol_px=0.01)
    n = len(trace.rnet.kept)
    assert cats.counts() == {"matched": n - 2, "moved": 1, "only C++": 1, "only Python": 1}
    assert cats.moved == [(0, 0)] and cats.only_ref == [1] and cats.only_cand == [n - 1]


def test_stage_figure_draws_every_category_and_an_arrow_per_moved_box(trace):
    cand = perturbed(trace)
    rep = mc.compare(trace, cand)
    cats = sc.categorise(rep.stage("rnet.kept"), 0.01)
    base = image_figure("data:image/png;base64,", 1.0, 512, 512)
    fig = sc.stage_figure(base, trace.rnet.kept, cand.rnet.kept, cats)
    names = [t.name for t in fig.data if getattr(t, "mode", None) == "lines"]
    assert any(n.startswith("matched") for n in names)
    assert any(n.startswith("only C++ (1)") for n in names)
    assert any(n.startswith("only Python (1)") for n in names)
    assert sum(n.startswith("moved (1)") for n in names) == 2
    assert len(fig.layout.annotations) == 1
    hover = [t for t in fig.data if getattr(t, "mode", None) == "markers"]
    assert hover and all(t.marker.opacity == 0 for t in hover)  # nothing drawn over faces


def test_deltas_are_in_scientific_notation(trace):
    cand = copy.deepcopy(trace)
    cand.detections.boxes[0, 0] = np.nextafter(cand.detections.boxes[0, 0], np.float32(1e9))
    rep = mc.compare(trace, cand)
    rows = sc.delta_rows(rep.stage("detections"), trace.detections, cand.detections, 0.01)
    dx = rows[0]["Δx"]
    assert "e-0" in dx and float(dx) > 0  # ~3e-05, not '0.000031' or '0'
    assert sc.sci(5.364e-07) == "5.364e-07" and sc.sci(0.0) == "0"
    table = sc.stage_rows(rep)
    assert table[-1]["max |Δxy| px"] == dx and table[-1]["result"] == "within tolerance"


def test_heatmap_difference_in_ulps_and_absolute():
    a = np.array([[0.5, 0.25], [0.75, 0.0]], np.float32)
    b = a.copy()
    b[0, 0] = np.nextafter(np.nextafter(a[0, 0], np.float32(1)), np.float32(1))  # +2 ulps
    b[1, 1] = -0.0  # same value
    d = sc.heatmap_difference(a, b)
    assert d["max_ulps"] == 2 and d["cells_differing"] == 1
    assert d["max_abs"] == pytest.approx(2 * 2.0**-24)
