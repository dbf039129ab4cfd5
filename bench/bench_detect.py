"""Time `detect` per reference image beside the C++ `timing_ms.total` of its trace.

    python bench/bench_detect.py [--engine auto|exact|blas] [--runs 7] [--threads 1] [--mfs20]

One BLAS thread (as OpenFace runs); images are decoded before timing; the first (warm-up) run is
not counted, so 'auto's one-off shape checks are excluded. Prints per image the median of --runs,
the per-stage split, the C++ time, the ratio, then the median ratio and the sums.
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
from mtcnn_core import kernels  # noqa: E402

SHARED = ROOT.parent / "shared"


def cases(mfs20: bool):
    out = []
    for j in sorted((SHARED / "reference" / "cpp").glob("*.json")):
        if ("__mfs20" in j.name) != mfs20:
            continue
        stem = j.name[:-5].split("__")[0]
        img = next(p for p in (SHARED / "reference" / "images").glob(stem + ".*"))
        out.append((j, img))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", default="auto", choices=mc.engine.ENGINES if hasattr(mc, "engine") else
                    ("auto", "exact", "blas"))
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1, help="threads of the exact kernels")
    ap.add_argument("--mfs20", action="store_true", help="the min_face_size=20, t1=0.5 set")
    a = ap.parse_args()
    kernels.set_threads(a.threads)
    print(f"engine={a.engine} exact-kernel threads={a.threads} BLAS threads="
          f"{os.environ['OPENBLAS_NUM_THREADS']} runs={a.runs}")
    print(f"{'image':<34}{'pyramid':>9}{'pnet':>9}{'nms':>7}{'rnet':>9}{'onet':>9}{'total ms':>10}"
          f"{'C++ ms':>9}{'ratio':>7}")
    ratios, tot_py, tot_cpp = [], 0.0, 0.0
    for j, img_path in cases(a.mfs20):
        ref = mc.Trace.load(j, heatmaps=None)
        img = mc.load_image(img_path)
        p = ref.params
        kw = dict(min_face_size=p["min_face_size"], t1=p["t1"], t2=p["t2"], t3=p["t3"], engine=a.engine)
        mc.detect(img, **kw)  # warm-up: engine checks, caches
        runs = []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            tr = mc.detect(img, **kw)
            runs.append(((time.perf_counter() - t0) * 1000, tr.timing_ms))
        runs.sort(key=lambda r: r[0])
        total, stages = runs[len(runs) // 2]
        cpp = ref.timing_ms["total"]
        ratios.append(total / cpp)
        tot_py += total
        tot_cpp += cpp
        print(f"{j.name[:-5]:<34}" + "".join(f"{stages.get(s, 0):>9.1f}" if s != "nms" else f"{stages.get(s, 0):>7.1f}"
                                           for s in ("pyramid", "pnet", "nms", "rnet", "onet"))
              + f"{total:>10.1f}{cpp:>9.1f}{total / cpp:>7.2f}")
    print(f"median ratio {statistics.median(ratios):.2f}   sum {tot_py:.0f} ms vs C++ {tot_cpp:.0f} ms "
          f"({tot_py / tot_cpp:.2f}x)")


if __name__ == "__main__":
    main()
