"""Time `detect` per reference image beside the C++'s time on this machine class.

    python bench/bench_detect.py [--engine exact|reference|blas] [--cpp-build avx512|avx2]
                                 [--threads 1] [--runs 7] [--mfs20]

C++ times come from ../shared/reference/cpp_timing.json (OpenFace 2.2 built and timed on the CI
machine class, default parameters; the column of the chosen build, 'avx512_idle' preferred for
avx512). With --mfs20 there is no such file: the traces' own timing_ms (a slower machine) is used
and the ratio is labelled so. Images are decoded before timing; the first (warm-up) run is not
counted. Prints per image the median of --runs, the per-stage split, the C++ time, the ratio,
then the median ratio and the sums.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import mtcnn_core as mc  # noqa: E402

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


def cpp_times(build: str) -> dict:
    path = SHARED / "reference" / "cpp_timing.json"
    if not path.is_file():
        return {}
    images = json.loads(path.read_text())["images"]
    cols = ("avx512_idle", "avx512") if build == "avx512" else ("avx2",)
    return {k: next(v[c] for c in cols if c in v) for k, v in images.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", default="exact", choices=("exact", "reference", "blas"))
    ap.add_argument("--cpp-build", default="avx512", choices=("avx512", "avx2"))
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1, help="kernel threads")
    ap.add_argument("--mfs20", action="store_true", help="the min_face_size=20, t1=0.5 set")
    a = ap.parse_args()
    from mtcnn_core.engine_info import blas_description

    timing = {} if a.mfs20 else cpp_times(a.cpp_build)
    print(
        f"engine={a.engine} cpp_build={a.cpp_build} threads={a.threads} runs={a.runs} "
        f"BLAS: {blas_description()} (OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')})"
    )
    print("C++ times: " + ("reference/cpp_timing.json" if timing else "traces' timing_ms (slower machine)"))
    print(
        f"{'image':<34}{'pyramid':>9}{'pnet':>9}{'nms':>7}{'rnet':>9}{'onet':>9}{'total ms':>10}"
        f"{'C++ ms':>9}{'ratio':>7}"
    )
    ratios, tot_py, tot_cpp = [], 0.0, 0.0
    for j, img_path in cases(a.mfs20):
        ref = mc.Trace.load(j, heatmaps=None)
        img = mc.load_image(img_path)
        p = ref.params
        kw = dict(
            min_face_size=p["min_face_size"],
            t1=p["t1"],
            t2=p["t2"],
            t3=p["t3"],
            engine=a.engine,
            cpp_build=a.cpp_build,
            threads=a.threads,
            cache=False,
        )  # every run computes everything (no stage cache)
        mc.detect(img, **kw)  # warm-up: loads the compiled kernels, caches
        runs = []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            tr = mc.detect(img, **kw)
            runs.append(((time.perf_counter() - t0) * 1000, tr.timing_ms))
        runs.sort(key=lambda r: r[0])
        total, stages = runs[len(runs) // 2]
        stem = j.name[:-5].split("__")[0]
        cpp = timing.get(stem, ref.timing_ms["total"])
        ratios.append(total / cpp)
        tot_py += total
        tot_cpp += cpp
        print(
            f"{j.name[:-5]:<34}"
            + "".join(
                f"{stages.get(s, 0):>9.1f}" if s != "nms" else f"{stages.get(s, 0):>7.1f}"
                for s in ("pyramid", "pnet", "nms", "rnet", "onet")
            )
            + f"{total:>10.1f}{cpp:>9.1f}{total / cpp:>7.2f}"
        )
    print(
        f"median ratio {statistics.median(ratios):.2f}   sum {tot_py:.0f} ms vs C++ {tot_cpp:.0f} ms "
        f"({tot_py / tot_cpp:.2f}x)"
    )


if __name__ == "__main__":
    main()
