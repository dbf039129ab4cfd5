"""Which OpenFace build made a C++ result: every bundled and shared trace attributed to its own
build, perturbed ones to neither; the same through the CLI and the batch."""

import json
import shutil

import numpy as np
import pytest
from conftest import ROOT, reference_cases

import mtcnn_core as mc
from mtcnn_core.tools.cli import main

CASES = [pytest.param(*c.values, "avx512", id=c.id) for c in reference_cases("avx512")] + [
    pytest.param(*c.values, "avx2", id=c.id) for c in reference_cases("avx2")
]
_images = {}


def image(path):
    if path not in _images:
        _images[path] = mc.load_image(path)
    return _images[path]


@pytest.mark.parametrize("json_path,image_path,build", CASES)
def test_every_cpp_trace_is_attributed_to_its_build(json_path, image_path, build):
    match = mc.identify_build(mc.Trace.load(json_path), image(image_path))
    assert match.matches == [build], match.describe()
    assert match.build == build and "bit for bit" in match.describe()


def bump(a: np.ndarray, i=0) -> np.ndarray:
    """A copy with element i moved by one ulp."""
    a = np.array(a, np.float32)
    flat = a.reshape(-1)
    flat[i] = np.nextafter(flat[i], np.float32(np.inf))
    return a


@pytest.mark.parametrize("stage", ["heatmap", "rnet", "final"])
def test_a_one_ulp_change_matches_neither_build(stage):
    case = next(c for c in reference_cases("avx2") if str(c.values[0]).endswith("grace_hopper.json"))
    ref = mc.Trace.load(case.values[0])
    if stage == "heatmap":
        s = ref.scales[0]
        s.heatmap = bump(s.heatmap, s.heatmap.size // 2)
    elif stage == "rnet":
        ref.rnet.scores = bump(ref.rnet.scores)
    else:
        ref.detections.boxes = bump(ref.detections.boxes)
    match = mc.identify_build(ref, image(case.values[1]))
    assert match.matches == [] and match.build is None
    assert match.nearest == "avx2"  # still nearer its own build
    assert "matches neither build" in match.describe()


def test_final_boxes_only_csv_is_attributed_too(tmp_path):
    # a CSV of final boxes (what OpenFace's FaceLandmarkImg writes): on faces_at_scales the two
    # builds give different last bits in the final boxes, so the CSV alone tells them apart
    for build in mc.BUILDS:
        case = next(c for c in reference_cases(build) if str(c.values[0]).endswith("faces_at_scales.json"))
        ref = mc.Trace.load(case.values[0])
        rows = ["x,y,w,h,confidence"] + [
            ",".join(repr(float(v)) for v in (*b, s)) for b, s in zip(ref.detections.boxes, ref.detections.scores)
        ]
        csv_path = tmp_path / f"{build}.csv"
        csv_path.write_text("\n".join(rows) + "\n")
        match = mc.identify_build(mc.trace.load_any(csv_path), image(case.values[1]))
        assert match.matches == [build], match.describe()


def test_cli_compare_with_image_names_the_build(capsys):
    case = next(c for c in reference_cases("avx2") if str(c.values[0]).endswith("chelsea_cat.json"))
    assert main(["compare", str(case.values[0]), "--image", str(case.values[1])]) == 0
    out = capsys.readouterr().out
    assert "matches OpenFace built for AVX2 CPUs" in out
    assert main(["compare", str(case.values[0]), "--image", str(case.values[1]), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["matches"] == ["avx2"] and d["report"]["bit_identical"]
    assert main(["compare", str(case.values[0])]) == 2
    assert "--image" in capsys.readouterr().err


def test_batch_records_which_build_each_cpp_result_matches(tmp_path):
    imgs, cpp = tmp_path / "images", tmp_path / "cpp"
    imgs.mkdir(), cpp.mkdir()
    for stem, sub in (("astronaut", "cpp"), ("chelsea_cat", "cpp_haswell")):
        shutil.copy(ROOT / "sample_images" / f"{stem}.png", imgs / f"{stem}.png")
        shutil.copy(ROOT / "sample_images" / sub / f"{stem}.json", cpp / f"{stem}.json")
    out = tmp_path / "out"
    assert main(["batch", str(imgs), "--out", str(out), "--cpp", str(cpp), "--workers", "1"]) == 0
    got = {p.name.split(".")[0]: json.loads(p.read_text())["cpp_build_match"] for p in out.glob("*.compare.json")}
    assert got == {"astronaut": "avx512", "chelsea_cat": "avx2"}
