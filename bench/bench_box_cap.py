"""Time and peak memory of a t1=t2=t3=0 run with and without the app's box cap (box_cap.py).

Usage: python bench/bench_box_cap.py [IMAGE] [--size WxH] [--mfs 12 60] [--caps 0 2000 5000]

IMAGE defaults to sample_images/faces_at_scales.png resized to 640x480 (the issue's case). Each
(min face, cap) pair runs in a fresh subprocess, so the peak RSS printed is that run's own; cap 0
means no cap (the C++'s behaviour, what the CLI and batch do).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ONE_RUN = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
import cv2
import mtcnn_core as mc
im = cv2.resize(cv2.imread({image!r}), ({w}, {h}))
mc.detect(im[:64, :64], cache=False)                       # compile/load the kernels first
t = time.perf_counter()
tr = mc.detect(im, min_face_size={mfs}, t1=0, t2=0, t3=0, cache=False, threads=2, box_cap={cap})
print(json.dumps({{"s": time.perf_counter() - t, "ms": tr.timing_ms, "cuts": tr.cap_cuts,
                  "rnet_in": len(tr.rnet.input), "onet_in": len(tr.onet.input),
                  "faces": len(tr.detections),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}}))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image", nargs="?", default=str(ROOT / "sample_images" / "faces_at_scales.png"))
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--mfs", type=int, nargs="+", default=[12, 60])
    ap.add_argument("--caps", type=int, nargs="+", default=[0, 2000, 5000])
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    print(f"{Path(a.image).name} at {w}x{h}, t1=t2=t3=0")
    print(
        f"{'min face':>8} {'cap':>6} {'time s':>7} {'nms ms':>7} {'rnet ms':>8} {'onet ms':>8} "
        f"{'RNet in':>8} {'ONet in':>8} {'faces':>6} {'peak MB':>8}  cut at"
    )
    for mfs in a.mfs:
        for cap in a.caps:
            code = ONE_RUN.format(root=str(ROOT), image=a.image, w=w, h=h, mfs=mfs, cap=cap if cap > 0 else None)
            r = json.loads(
                subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            )
            where = (
                ", ".join(
                    f"{c['stage']}{'' if c['index'] is None else ' ' + str(c['index'])} ({c['boxes']})"
                    for c in r["cuts"]
                )
                or "-"
            )
            print(
                f"{mfs:>8} {cap or 'none':>6} {r['s']:>7.1f} {r['ms'].get('nms', 0):>7.0f} "
                f"{r['ms'].get('rnet', 0):>8.0f} {r['ms'].get('onet', 0):>8.0f} {r['rnet_in']:>8} "
                f"{r['onet_in']:>8} {r['faces']:>6} {r['rss_mb']:>8}  {where}",
                flush=True,
            )


if __name__ == "__main__":
    main()
