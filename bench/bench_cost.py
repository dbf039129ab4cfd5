"""Time and peak memory of one detection against its pyramid pixels (cost.py's measure), to
choose the app's cost budget and hard ceiling.

Usage: python bench/bench_cost.py [IMAGE] [--size WxH] [--mfs 60 30 20 15 12]

IMAGE defaults to ../shared's crowd photo if present, else sample_images/faces_at_scales.png,
resized to --size (default 4000x3000, a 12-Mpixel phone photo). Each min face size runs in a fresh
subprocess with the app's settings (2 threads, the app's box cap), so the peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CROWD = ROOT.parent / "shared" / "reference" / "images" / "crowd_staff_aerial.jpg"

ONE_RUN = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
import cv2
import mtcnn_core as mc
im = cv2.resize(cv2.imread({image!r}), ({w}, {h}))
mc.detect(im[:64, :64], cache=False)                       # compile/load the kernels first
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
t = time.perf_counter()
tr = mc.detect(im, min_face_size={mfs}, cache=False, threads=2, box_cap=5000)
print(json.dumps({{"s": time.perf_counter() - t, "faces": len(tr.detections), "base_mb": base,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}}))
"""


def main():
    from mtcnn_core.cost import pyramid_pixels

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "image", nargs="?", default=str(CROWD if CROWD.exists() else ROOT / "sample_images" / "faces_at_scales.png")
    )
    ap.add_argument("--size", default="4000x3000")
    ap.add_argument("--mfs", type=int, nargs="+", default=[60, 30, 20, 15, 12])
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    print(f"{Path(a.image).name} at {w}x{h}, defaults otherwise, 2 threads")
    print(f"{'min face':>8} {'pyramid Mpx':>11} {'time s':>7} {'peak MB':>8} {'base MB':>8} {'faces':>6}")
    for mfs in a.mfs:
        pix = pyramid_pixels(h, w, mfs, 0.709)
        code = ONE_RUN.format(root=str(ROOT), image=a.image, w=w, h=h, mfs=mfs)
        r = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        print(
            f"{mfs:>8} {pix / 1e6:>11.1f} {r['s']:>7.1f} {r['rss_mb']:>8} {r['base_mb']:>8} {r['faces']:>6}", flush=True
        )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
