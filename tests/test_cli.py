"""CLI: detect/trace/compare outputs and exit codes (0 ok, 1 differs, 2 bad input)."""

import json
import subprocess
import sys

import pytest
from conftest import ROOT, SHARED, needs_shared


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "mtcnn_core", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@needs_shared
def test_trace_then_compare_against_cpp(tmp_path):
    img = SHARED / "sample_images" / "grace_hopper.jpg"
    r = cli("trace", img, "--out", tmp_path / "g.json", "--heatmaps")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "g.heatmaps.npz").exists()
    r = cli("compare", SHARED / "sample_images" / "cpp" / "grace_hopper.json", tmp_path / "g.json")
    assert r.returncode == 0 and "all stages bit-identical" in r.stdout
    r = cli("compare", SHARED / "sample_images" / "cpp" / "grace_hopper__mfs20.json", tmp_path / "g.json", "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["ok"] is False


@needs_shared
def test_detect_json():
    r = cli("detect", SHARED / "sample_images" / "astronaut.png", "--json")
    assert r.returncode == 0
    assert len(json.loads(r.stdout)["detections"]) == 1


@pytest.mark.parametrize(
    "args,msg",
    [
        (["--min-face-size", "0"], "min_face_size must be an integer >= 1"),
        (["--t2", "1.5"], "t2 must be a number in [0, 1]"),
        (["--pyramid-factor", "1"], "pyramid_factor must be a number in (0, 1)"),
    ],
)
def test_bad_parameters_exit_2(tmp_path, args, msg):
    img = tmp_path / "x.png"
    img.write_bytes(b"")
    r = cli("detect", img, *args)
    assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr


def test_bad_image_exit_2(tmp_path):
    p = tmp_path / "x.jpg"
    p.write_bytes(b"not an image at all")
    r = cli("detect", p)
    assert r.returncode == 2 and "not a decodable image" in r.stderr and "Traceback" not in r.stderr


def test_bad_trace_exit_2(tmp_path):
    p = tmp_path / "t.json"
    p.write_text("{broken")
    r = cli("compare", p, p)
    assert r.returncode == 2 and "not valid JSON" in r.stderr
