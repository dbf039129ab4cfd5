"""A cost budget per request: a run whose pyramid would exceed the budget is refused before PNet
runs, with a message naming min face size and the smallest value that fits; the CLI allows it
with --allow-expensive; the app asks to confirm up to its hard ceiling and refuses above it
(tests/app/test_cost_confirm.py)."""

import subprocess
import sys

import cv2
import numpy as np
import pytest

from mtcnn_core.cost import DEFAULT_BUDGET_PIXELS, CostError, check_budget, pyramid_pixels
from tests.hostile import ROOT, run_bounded


@pytest.fixture(scope="module")
def big_flat(tmp_path_factory):
    """7000x7000 (49 Mpixel, under the pixel limit) but a few KB as PNG."""
    p = tmp_path_factory.mktemp("cost") / "big_flat.png"
    assert cv2.imwrite(str(p), np.full((7000, 7000, 3), 90, np.uint8))
    assert p.stat().st_size < 200_000
    return p


def test_refusal_names_the_parameter_and_a_value_that_fits():
    params = dict(min_face_size=12, pyramid_factor=0.709)
    with pytest.raises(CostError, match="min face size to at least") as e:
        check_budget(7000, 7000, params)
    import re

    need = int(re.search(r"at least (\d+)", str(e.value)).group(1))
    assert pyramid_pixels(7000, 7000, need, 0.709) <= DEFAULT_BUDGET_PIXELS
    assert pyramid_pixels(7000, 7000, need - 1, 0.709) > DEFAULT_BUDGET_PIXELS
    check_budget(7000, 7000, dict(min_face_size=need, pyramid_factor=0.709))


def test_cli_refuses_before_allocating_the_pyramid(big_flat):
    r = subprocess.run(
        [sys.executable, "-m", "mtcnn_core", "detect", str(big_flat), "--min-face-size", "12"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "min face size to at least" in lines[0], r.stderr
    # in a bounded child: decoding the 49-Mpixel image is all the memory it takes
    res = run_bounded(
        "try:\n    mc.detect_bytes(open(sys.argv[1], 'rb').read(), min_face_size=12, "
        "budget=8_000_000); r = 'ran'\nexcept mc.MTCNNInputError as e:\n    r = str(e)\n"
        "print(json.dumps({'r': r, 'peak_mb': _peak_mb()}))",
        args=(big_flat,),
    )
    assert "over the budget" in res["r"] and res["peak_mb"] < 500, res


def test_app_refuses_with_one_line_and_keeps_working(big_flat):
    from tests.app.conftest import errors, new_app, no_exception

    at = new_app()
    at.sidebar.file_uploader(key="uploader").set_value(("big.png", big_flat.read_bytes(), "image/png")).run()
    at.number_input(key="min_face_size").set_value(12).run()
    no_exception(at)
    msgs = errors(at)
    assert len(msgs) == 1 and "min face size to at least" in msgs[0], msgs
    at.number_input(key="min_face_size").set_value(60).run()
    no_exception(at)
    assert not errors(at)
