"""Start-up and app-sized runs of the exact engine.

    python bench/bench_startup.py [--threads N]

1. One-off compile time of the numba kernels (a fresh NUMBA_CACHE_DIR, as on a new machine) and
   the cached start-up (the same cache again), each in a fresh process: import + kernels.warm_up().
2. What an app user waits for in a warm server (kernels loaded): a new 1920x1080 JPEG upload
   (decode + detect, default parameters), and a 3000x2171 photo (the size of the Solvay
   conference photo) at min face 20, with the app's thread count (all cores).
3. The whole CLI command a user types, `python -m mtcnn_core detect` on that 1920x1080 JPEG:
   wall time of a fresh process (interpreter start, imports, kernels from the cache, decode,
   detect, exit), one thread.
Images are the reference photos resized (a crowd for the large one), so faces are real.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"

STARTUP = r"""
import sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import mtcnn_core
from mtcnn_core import kernels
t1 = time.perf_counter()
kernels.warm_up()
print(f"{t1 - t0:.3f} {time.perf_counter() - t1:.3f}")
"""


def startup_times() -> tuple:
    """((import s, kernels s) with an empty cache, (import s, kernels s) from that cache)."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = []
        for _ in range(2):
            r = subprocess.run(
                [sys.executable, "-c", STARTUP, str(ROOT)], env=env, capture_output=True, text=True, check=True
            )
            out.append(tuple(float(v) for v in r.stdout.split()))
        return out


def jpeg_of(path: Path, width: int, height: int) -> bytes:
    import cv2

    img = cv2.resize(cv2.imread(str(path)), (width, height), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return buf.tobytes()


def timed(fn, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cli_detect_seconds(jpeg: bytes, runs: int) -> float:
    """Median wall time of `python -m mtcnn_core detect IMAGE --threads 1` in a fresh process."""
    with tempfile.TemporaryDirectory() as d:
        img = Path(d) / "hd.jpg"
        img.write_bytes(jpeg)
        cmd = [sys.executable, "-m", "mtcnn_core", "detect", str(img), "--threads", "1"]
        return timed(lambda: subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True), runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    (imp0, k0), (imp1, k1) = startup_times()
    print(f"fresh machine: import {imp0:.2f} s + compile kernels {k0:.2f} s")
    print(f"cached start:  import {imp1:.2f} s + load kernels {k1:.2f} s")

    import mtcnn_core as mc

    mc.kernels.warm_up()
    hd = jpeg_of(SHARED / "reference" / "images" / "group_friends_seaside.jpg", 1920, 1080)
    big = jpeg_of(SHARED / "reference" / "images" / "profile_audience.jpg", 3000, 2171)
    for name, data, params in (
        ("1920x1080 upload, defaults", hd, {}),
        ("3000x2171 photo, min face 20", big, {"min_face_size": 20}),
    ):
        sec = timed(lambda: mc.detect_bytes(data, "x.jpg", threads=a.threads, cache=False, **params), a.runs)
        faces = len(mc.detect_bytes(data, "x.jpg", threads=a.threads, **params).detections)
        print(f"{name:<32} {sec * 1000:8.1f} ms  ({faces} faces, {a.threads} threads, decode included)")
    cli = cli_detect_seconds(hd, a.runs)
    print(f"{'CLI detect, 1920x1080, whole':<32} {cli * 1000:8.1f} ms  (fresh process, 1 thread)")


if __name__ == "__main__":
    main()
