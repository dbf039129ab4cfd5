"""Peak memory of `detect` + a full trace (JSON and heatmap npz) on a large photo-like image.

    python bench/bench_memory.py [--width 6000] [--height 4000] [--engine auto] [--no-tracemalloc]

The image is `../shared/reference/images/large_obama_blue_room.jpg` upscaled with cv2.resize (or
a synthetic smooth image when ../shared is absent). The measurement runs in a fresh subprocess so
`ru_maxrss` (process high-water mark, includes numpy/cv2 imports and the decoded image) is not
polluted by this process. Also reports the Python-heap peak from tracemalloc (numpy buffers are
traced) over `detect` + serialisation only, and the baseline RSS just before `detect`.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "reference" / "images" / "large_obama_blue_room.jpg"

CHILD = r"""
import io, json, resource, sys, time, tracemalloc
sys.path.insert(0, {root!r})
import cv2, numpy as np
import mtcnn_core as mc

W, H, engine, use_tm = {width}, {height}, {engine!r}, {tracemalloc}
src = {sample!r}
if src:
    img = cv2.resize(mc.load_image(src), (W, H), interpolation=cv2.INTER_CUBIC)
else:
    small = np.random.default_rng(0).integers(0, 256, (H // 16, W // 16, 3), dtype=np.uint8)
    img = cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC)
models = mc.load_models()
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux -> MiB
base = rss()
if use_tm:
    tracemalloc.start()
t0 = time.perf_counter()
trace = mc.detect(img, models=models, engine=engine)
text = trace.to_json()
buf = io.BytesIO()
np.savez_compressed(buf, **trace.heatmaps())
secs = time.perf_counter() - t0
tm_peak = tracemalloc.get_traced_memory()[1] / 2**20 if use_tm else None
print(json.dumps(dict(width=W, height=H, image_mb=img.nbytes / 2**20, baseline_rss_mb=base,
                      peak_rss_mb=rss(), tracemalloc_peak_mb=tm_peak, seconds=secs,
                      levels=len(trace.scales), detections=int(len(trace.detections.scores)),
                      json_mb=len(text) / 2**20, npz_mb=buf.tell() / 2**20)))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=6000)
    ap.add_argument("--height", type=int, default=4000)
    ap.add_argument("--engine", default="auto")
    ap.add_argument("--no-tracemalloc", action="store_true", help="RSS only (tracemalloc slows numpy a bit)")
    a = ap.parse_args()
    code = CHILD.format(
        root=str(ROOT),
        width=a.width,
        height=a.height,
        engine=a.engine,
        tracemalloc=not a.no_tracemalloc,
        sample=str(SAMPLE) if SAMPLE.is_file() else "",
    )
    env = dict(os.environ, OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode:
        sys.exit(out.stderr)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"{r['width']}x{r['height']} image ({r['image_mb']:.0f} MB uint8), engine={a.engine}: "
        f"{r['levels']} pyramid levels, {r['detections']} detections, {r['seconds']:.1f} s"
    )
    print(f"  RSS before detect      : {r['baseline_rss_mb']:8.1f} MB")
    print(
        f"  peak RSS (ru_maxrss)   : {r['peak_rss_mb']:8.1f} MB   "
        f"(+{r['peak_rss_mb'] - r['baseline_rss_mb']:.1f} MB for detect + trace)"
    )
    if r["tracemalloc_peak_mb"] is not None:
        print(f"  tracemalloc peak       : {r['tracemalloc_peak_mb']:8.1f} MB (detect + JSON + heatmap npz)")
    print(f"  trace JSON {r['json_mb']:.1f} MB, heatmaps npz {r['npz_mb']:.1f} MB")


if __name__ == "__main__":
    main()
