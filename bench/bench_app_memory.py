"""Server memory over many uploads: 50 different images through the app (AppTest), RSS before/after.

    python bench/bench_app_memory.py [--images 50]

Each image is a distinct variant (crop, flip, brightness) of a bundled sample, set as the session's
upload the way the sidebar does, then the Detect page runs. The app's caches are capped
(`max_entries`/`ttl`), so RSS should level off instead of growing with every upload.
"""

import argparse
import gc
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "app"))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def variants(n: int):
    """n distinct PNG images derived from the samples."""
    bases = [cv2.imread(str(p)) for p in sorted((ROOT / "sample_images").glob("*.[pj][np]g"))]
    for i in range(n):
        img = bases[i % len(bases)]
        h, w = img.shape[:2]
        y0, x0 = (i * 7) % (h // 5), (i * 11) % (w // 5)
        v = img[y0:, x0:]
        if i % 2:
            v = v[:, ::-1]
        v = np.clip(v.astype(np.int16) + (i % 9) - 4, 0, 255).astype(np.uint8)
        yield f"upload_{i:02d}.png", cv2.imencode(".png", v)[1].tobytes()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=50)
    a = ap.parse_args()
    from conftest import new_app  # the app tests' AppTest factory (MPA v2 fix included)

    from ui.views import state

    at = new_app()
    gc.collect()
    before = rss_mb()
    marks = []
    for i, (name, data) in enumerate(variants(a.images), 1):
        at.session_state["image"] = state.image_record(name, data, "upload")
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if i % 10 == 0:
            gc.collect()
            marks.append((i, rss_mb()))
            print(f"after {i:3d} uploads: RSS {marks[-1][1]:.0f} MB", flush=True)
    print(
        f"RSS before: {before:.0f} MB, after {a.images} uploads: {marks[-1][1]:.0f} MB "
        f"(growth from upload 10 to {a.images}: {marks[-1][1] - marks[0][1]:+.0f} MB)"
    )


if __name__ == "__main__":
    main()
