import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))
import mtcnn_core  # noqa: E402,F401  (first: sets OpenCV's pixel limit before any test imports cv2)


def reference_cases():
    """(id, trace json, image path) of every C++ reference run in ../shared."""
    cases = []
    for cpp_dir, img_dir in ((SHARED / "reference" / "cpp", SHARED / "reference" / "images"),
                             (SHARED / "sample_images" / "cpp", SHARED / "sample_images")):
        for j in sorted(cpp_dir.glob("*.json")):
            stem = j.name[:-5].split("__")[0]
            imgs = [p for p in img_dir.glob(stem + ".*") if p.suffix != ".json"]
            if imgs:
                cases.append(pytest.param(j, imgs[0], id=j.name[:-5]))
    return cases


needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared (C++ references) not present")
