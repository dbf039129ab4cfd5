"""compare() stage by stage: a bundled C++ trace against copies of itself with one perturbation
each, inside and outside tolerance, and what the CLI, the batch rows and the Dataset page make of it."""

import csv
import io

import numpy as np
import pytest
from conftest import ROOT

import mtcnn_core as mc
from mtcnn_core.tools.batch import summary
from mtcnn_core.tools.cli import main as cli_main

REF = ROOT / "sample_images" / "cpp" / "astronaut.json"
F32 = np.float32


@pytest.fixture()
def ref():
    return mc.Trace.load(REF)


@pytest.fixture()
def cand():
    return mc.Trace.load(REF)


def nudge_box(boxset, i=0, col=0, by=0.005):
    boxset.boxes = boxset.boxes.copy()
    boxset.boxes[i, col] = F32(float(boxset.boxes[i, col]) + by)


def test_the_bundled_trace_has_every_stage(ref):
    assert ref.has_stages and len(ref.scales) >= 2 and len(ref.rnet.input) and len(ref.onet.kept)
    assert all(s.heatmap is not None for s in ref.scales)


def test_a_trace_against_itself_is_bit_identical(ref, cand):
    rep = mc.compare(ref, cand)
    assert rep.ok and rep.bit_identical
    assert rep.first_divergent is None and rep.first_not_identical is None
    names = [s.name for s in rep.stages]
    assert names[0] == "pyramid" and names[-1] == "detections"
    assert names[1 : 1 + len(ref.scales)] == [f"pnet.scale{s.index}" for s in ref.scales]


@pytest.mark.parametrize(
    "stage", ["pnet.scale1", "pnet.merged", "rnet.input", "rnet.kept", "onet.input", "onet.kept", "detections"]
)
def test_a_box_moved_inside_tolerance_is_not_identical_but_ok(ref, cand, stage):
    nudge_box(stage_boxes(cand, stage), by=0.005)
    rep = mc.compare(ref, cand, tol_px=0.01)
    assert rep.ok and not rep.bit_identical
    assert rep.first_divergent is None
    assert rep.first_not_identical == stage
    st = rep.stage(stage)
    assert not st.bit_identical and st.within_tolerance and 0.004 < st.max_dxy < 0.006


@pytest.mark.parametrize("stage", ["pnet.scale1", "pnet.merged", "rnet.input", "onet.kept", "detections"])
def test_a_box_moved_beyond_tolerance_is_the_first_divergent_stage(ref, cand, stage):
    nudge_box(stage_boxes(cand, stage), by=0.05)
    rep = mc.compare(ref, cand, tol_px=0.01)
    assert not rep.ok
    assert rep.first_divergent == stage == rep.first_not_identical


def stage_boxes(trace, stage):
    if stage.startswith("pnet.scale"):
        return trace.scales[int(stage[len("pnet.scale") :])].kept
    if stage == "pnet.merged":
        return trace.merged
    if stage == "detections":
        return trace.detections
    net, part = stage.split(".")
    return getattr(getattr(trace, net), part)


def test_a_delta_exactly_at_the_tolerance_is_within_it(ref, cand):
    nudge_box(cand.detections, by=0.25)  # exact in float32 and float64
    rep = mc.compare(ref, cand, tol_px=0.25)
    assert rep.stage("detections").max_dxy == 0.25
    assert rep.ok and rep.first_not_identical == "detections"
    assert not mc.compare(ref, cand, tol_px=0.2499).ok


def test_a_different_pyramid_is_the_first_divergent_stage(ref, cand):
    s = cand.scales[0]
    s.scale = float(np.nextafter(s.scale, 1.0))  # one ulp: no tolerance on scales
    rep = mc.compare(ref, cand)
    assert not rep.ok and rep.first_divergent == "pyramid" == rep.first_not_identical
    assert "factors" in rep.stage("pyramid").detail


def test_a_missing_level_is_the_first_divergent_stage(ref, cand):
    cand.scales = cand.scales[:-1]
    rep = mc.compare(ref, cand)
    assert rep.first_divergent == "pyramid" and rep.stage("pyramid").cand_count == len(ref.scales) - 1


def test_heatmap_differences_inside_and_outside_tolerance(ref, cand):
    hm = cand.scales[0].heatmap = cand.scales[0].heatmap.copy()
    hm[0, 0] = F32(float(hm[0, 0]) + 1e-6)
    rep = mc.compare(ref, cand, tol_score=1e-4)
    assert rep.ok and rep.first_not_identical == "pnet.scale0"
    assert 0 < rep.heatmap_max_abs[0] < 1e-5
    hm[0, 0] = F32(float(ref.scales[0].heatmap[0, 0]) + 1e-3)
    rep = mc.compare(ref, cand, tol_score=1e-4)
    assert rep.first_divergent == "pnet.scale0" and "heatmap" in rep.stage("pnet.scale0").detail


def test_a_different_count_above_t1_diverges(ref, cand):
    cand.scales[1].num_above_t1 += 1
    rep = mc.compare(ref, cand)
    assert rep.first_divergent == "pnet.scale1" and "cells >= t1" in rep.stage("pnet.scale1").detail


def test_scores_inside_and_outside_tolerance(ref, cand):
    cand.rnet.scores = cand.rnet.scores.copy()
    cand.rnet.scores[0] = np.nextafter(cand.rnet.scores[0], F32(0))
    rep = mc.compare(ref, cand, tol_score=1e-4)
    assert rep.ok and rep.first_not_identical == "rnet.scores"
    cand.rnet.scores[0] = F32(float(ref.rnet.scores[0]) - 0.01)
    rep = mc.compare(ref, cand, tol_score=1e-4)
    assert rep.first_divergent == "rnet.scores"
    assert rep.stage("pnet.merged").bit_identical and rep.stage("rnet.input").bit_identical


def test_scores_of_diverging_inputs_are_not_within_tolerance(ref, cand):
    nudge_box(cand.onet.input, by=0.5)  # same scores, other input boxes
    rep = mc.compare(ref, cand)
    st = rep.stage("onet.scores")
    assert st.max_dscore == 0 and not st.within_tolerance and st.detail == "input boxes differ"
    assert rep.first_divergent == "onet.input"


def test_bit_identity_sees_the_sign_of_zero(ref, cand):
    for t, z in ((ref, 0.0), (cand, -0.0)):
        t.detections.boxes = t.detections.boxes.copy()
        t.detections.boxes[0, 0] = F32(z)
    rep = mc.compare(ref, cand)
    assert rep.ok and not rep.bit_identical and rep.first_not_identical == "detections"


def test_an_extra_detection_diverges(ref, cand):
    d = cand.detections
    cand.detections = mc.trace.BoxSet(
        np.concatenate([d.boxes, [[1, 1, 30, 30]]]).astype(F32), np.concatenate([d.scores, [0.9]]).astype(F32)
    )
    rep = mc.compare(ref, cand)
    st = rep.stage("detections")
    assert rep.first_divergent == "detections" and st.unmatched_cand == [len(d)] and "unmatched" in st.detail


# ---- what the CLI, batch rows and the Dataset page make of it ------------------------------------
def perturbed(kind):
    ref, cand = mc.Trace.load(REF), mc.Trace.load(REF)
    if kind == "tol":
        nudge_box(cand.rnet.kept, by=0.005)
    elif kind == "diverges":
        nudge_box(cand.merged, by=0.05)
    return ref, cand


@pytest.mark.parametrize("kind,code", [("identical", 0), ("tol", 0), ("diverges", 1)])
def test_cli_compare_exit_code_and_verdict(kind, code, tmp_path, capsys):
    ref, cand = perturbed(kind)
    ref.save(tmp_path / "ref.json", heatmaps=True)
    cand.save(tmp_path / "cand.json", heatmaps=True)
    assert cli_main(["compare", str(tmp_path / "ref.json"), str(tmp_path / "cand.json")]) == code
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert (
        last
        == {
            "identical": "all stages bit-identical",
            "tol": "all stages within tolerance (first not bit-identical: rnet.kept)",
            "diverges": "first divergent stage: pnet.merged",
        }[kind]
    )


def summary_row(kind):
    row = {k: "" for k in summary.SUMMARY_FIELDS}
    row["file"] = f"{kind}.png"
    ref, cand = perturbed(kind)
    extra = summary.row_from_report(mc.compare(ref, cand), row)
    return row, extra


@pytest.mark.parametrize(
    "kind,stage_verdicts",
    [
        ("identical", {"rnet.kept": "identical", "pnet.merged": "identical"}),
        ("tol", {"rnet.kept": "tol", "pnet.merged": "identical"}),
        ("diverges", {"rnet.kept": "identical", "pnet.merged": "diverges"}),
    ],
)
def test_batch_row_status(kind, stage_verdicts):
    row, extra = summary_row(kind)
    assert summary.row_status(row) == kind
    assert row["bit_identical"] == ("yes" if kind == "identical" else "no")
    assert row["first_divergent_stage"] == ("pnet.merged" if kind == "diverges" else "")
    assert extra["ok"] == (kind != "diverges")
    assert {k: extra["stages"][k] for k in stage_verdicts} == stage_verdicts


def test_dataset_page_statuses_of_a_summary():
    from ui.views import dataset_view as dv

    rows = [summary_row(k)[0] for k in ("identical", "tol", "diverges")]
    rows.append(
        {**rows[0], "file": "broken.png", "error": "not a decodable image", "bit_identical": "", "faces_cpp": ""}
    )
    rows.append({**rows[0], "file": "nocpp.png", "bit_identical": "", "first_divergent_stage": "", "faces_cpp": ""})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=summary.SUMMARY_FIELDS)
    w.writeheader()
    w.writerows(rows)
    df = dv.parse_summary(buf.getvalue())
    assert df["status"].tolist() == [dv.IDENTICAL, dv.TOLERANCE, dv.DIVERGING, dv.FAILED, dv.NO_CPP]
    assert summary.status_counts(rows) == {"identical": 1, "tol": 1, "diverges": 1, "failed": 1, "nocpp": 1}
