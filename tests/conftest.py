import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))
import mtcnn_core  # noqa: E402,F401  (first: sets OpenCV's pixel limit before any test imports cv2)

#: Under CI a missing extended reference set is an error, not a reason to skip.
IN_CI = os.environ.get("CI") == "true"
#: C++ trace folder of each OpenFace build, beside its images.
BUILD_DIRS = {"avx512": "cpp", "avx2": "cpp_haswell"}


def reference_cases(build: str = "avx512"):
    """(trace json, image path) params of every C++ run of that build: ../shared's reference and
    sample sets when present, else the sample traces bundled in sample_images/."""
    sub = BUILD_DIRS[build]
    if SHARED.is_dir():
        dirs = [
            (SHARED / "reference" / sub, SHARED / "reference" / "images"),
            (SHARED / "sample_images" / sub, SHARED / "sample_images"),
        ]
    else:
        dirs = [(ROOT / "sample_images" / sub, ROOT / "sample_images")]
    cases = []
    for cpp_dir, img_dir in dirs:
        for j in sorted(cpp_dir.glob("*.json")):
            stem = j.name[:-5].split("__")[0]
            imgs = [p for p in img_dir.glob(stem + ".*") if p.suffix != ".json"]
            if imgs:
                cases.append(pytest.param(j, imgs[0], id=f"{build}-{j.name[:-5]}"))
    return cases


#: Skips without ../shared, except under CI, where the test runs and fails on the missing files.
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir() and not IN_CI, reason="../shared (extended C++ references) not present"
)
#: Debian's Chromium, the only browser the end-to-end tests drive (never downloaded).
CHROMIUM = Path("/usr/bin/chromium")


def require(available: bool, what: str):
    """Skip a test whose optional dependency is missing on a developer machine; under CI=true the
    same absence fails the test, so a CI run cannot go green with parts of the suite unrun."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is missing under CI=true (.ci/run installs it): failing, not skipping", pytrace=False)
    pytest.skip(f"{what} not available")


def has_module(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def require_chromium():
    require(CHROMIUM.exists() and has_module("playwright.sync_api"), f"Debian chromium ({CHROMIUM}) with playwright")


def require_dask():
    require(has_module("dask.distributed"), "dask[distributed] (requirements-cluster.txt)")
