"""CLI surface: every option documents its default, `compare` offers only comparison options,
`--version`, and `batch` ends with the totals per verdict."""

import argparse
import json
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

from mtcnn_core import __version__
from mtcnn_core.tools.cli import build_parser, main

SAMPLES = ROOT / "sample_images"


def subcommands():
    ap = build_parser()
    (sub,) = [a for a in ap._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


@pytest.mark.parametrize("name", ["app", "detect", "trace", "compare", "batch", "models"])
def test_every_option_has_help_with_default(name):
    parser = subcommands()[name]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{name} {action.dest}: no help"
        if action.option_strings:
            text = action.help % {"default": action.default}
            assert "default" in text or "required" in text, f"{name} {action.option_strings}: {text}"


def test_compare_offers_only_comparison_options():
    opts = {o for a in subcommands()["compare"]._actions for o in a.option_strings}
    # --image/--models/--threads: run this port as both C++ builds to say which one made REFERENCE
    assert opts == {"-h", "--help", "--json", "--tol-px", "--tol-score", "--image", "--models", "--threads"}
    assert not opts & {"--min-face-size", "--t1", "--engine", "--cpp-build"}


def test_help_shows_tolerance_defaults():
    r = subprocess.run(
        [sys.executable, "-m", "mtcnn_core", "compare", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    assert "(default: 0.01)" in text and "(default: 0.0001)" in text and "--min-face-size" not in text


def test_version(capsys):
    assert main(["--version"], prog="mtcnn-lens") == 0
    assert capsys.readouterr().out.strip() == f"mtcnn-lens {__version__}"


def test_app_dry_run_is_local_with_bundled_settings(capsys):
    assert main(["app", "--dry-run", "--port", "8599", "--", "--theme.base", "light"]) == 0
    argv = capsys.readouterr().out.split()
    assert argv[1:4] == ["-m", "streamlit", "run"] and argv[4].endswith("app.py")
    assert "--server.address=127.0.0.1" in argv and "--server.port=8599" in argv
    assert "--server.maxUploadSize=50" in argv and "--browser.gatherUsageStats=false" in argv
    assert argv[-2:] == ["--theme.base", "light"]


def test_app_warns_when_not_local(capsys):
    assert main(["app", "--dry-run", "--address", "0.0.0.0"]) == 0
    captured = capsys.readouterr()
    assert "--server.address=0.0.0.0" in captured.out.split()
    assert captured.err.startswith("warning: listening on 0.0.0.0")
    assert main(["app", "--dry-run"]) == 0 and capsys.readouterr().err == ""


def test_app_bad_port_exit_2(capsys):
    assert main(["app", "--dry-run", "--port", "70000"]) == 2
    assert "--port must be in 1..65535" in capsys.readouterr().err


def test_batch_ends_with_totals(tmp_path, capsys):
    """One image per verdict: identical, within tolerance, diverging, failed, no C++ reference."""
    img, cpp = tmp_path / "img", tmp_path / "cpp"
    img.mkdir(), cpp.mkdir()
    ref = json.loads((SAMPLES / "cpp" / "grace_hopper.json").read_text())
    for stem in ("same", "nudged", "moved"):
        shutil.copy(SAMPLES / "grace_hopper.jpg", img / f"{stem}.jpg")
    shutil.copy(SAMPLES / "chelsea_cat.png", img / "cat.png")
    (img / "broken.png").write_bytes(b"\x89PNG not really")
    (cpp / "same.json").write_text(json.dumps(ref))
    nudged = json.loads(json.dumps(ref))
    nudged["detections"][0][4] -= 1e-6  # a score difference within --tol-score
    (cpp / "nudged.json").write_text(json.dumps(nudged))
    moved = json.loads(json.dumps(ref))
    moved["detections"][0][0] += 5.0  # 5 px: beyond --tol-px
    (cpp / "moved.json").write_text(json.dumps(moved))
    code = main(["batch", str(img), "--out", str(tmp_path / "out"), "--cpp", str(cpp), "--workers", "1"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 1  # one image failed
    assert out[-1] == ("5 image(s): bit-identical 1, within tolerance 1, diverging 1, failed 1, no C++ 1")
