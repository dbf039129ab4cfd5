"""Time of the avx2 build against the avx512 build, the two alternating image by image.

    python bench/bench_builds.py [--rounds 9] [--threads 1]

This VM's speed drifts by 10-20 % from one minute to the next, which swamps a ratio taken from two
separate `bench_detect.py` runs. Here one process runs every reference photo with both builds
back to back (in alternating order from round to round) and takes each image's least and median
CPU time (thread time: the kernel threads' time is not counted, so use --threads 1) per build.
Prints the sums and their ratio.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import mtcnn_core as mc  # noqa: E402

SHARED = ROOT.parent / "shared"
BUILDS = ("avx512", "avx2")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    paths = sorted(p for p in (SHARED / "reference" / "images").iterdir() if p.suffix in (".jpg", ".png"))
    images = [mc.load_image(p) for p in paths]
    models = mc.load_models()
    for build in BUILDS:  # load the kernels, fill the per-size caches
        mc.detect(images[0], models=models, cache=False, cpp_build=build, threads=a.threads)
    times = {(b, i): [] for b in BUILDS for i in range(len(images))}
    for r in range(a.rounds):
        for i, image in enumerate(images):
            for build in BUILDS if r % 2 == 0 else BUILDS[::-1]:
                t0 = time.thread_time()
                mc.detect(image, models=models, cache=False, cpp_build=build, threads=a.threads)
                times[(build, i)].append(time.thread_time() - t0)
    print(f"{len(images)} reference photos, {a.rounds} rounds, {a.threads} thread(s), CPU time summed over images")
    for name, pick in (("least", min), ("median", statistics.median)):
        s512, s2 = (sum(pick(times[(b, i)]) for i in range(len(images))) * 1000 for b in BUILDS)
        print(f"{name:6s} avx512 {s512:7.1f} ms   avx2 {s2:7.1f} ms   avx2/avx512 {s2 / s512:.3f}")


if __name__ == "__main__":
    main()
