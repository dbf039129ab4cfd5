"""Throughput of `mtcnn_core batch` on every reference + sample image (default parameters):
serial, a 2-process pool and a 2-worker dask LocalCluster; images/s and peak RSS per worker.

"cold" is a first run_batch in a fresh interpreter (numba's start-up and the kernels' load
included); "warm" is a second run_batch over the same images into a fresh folder in the same
process (a new pool, forked from a warm parent): the throughput of a long batch.

"whole command" is what a user waits for: `python -m mtcnn_core batch ... --workers 1 --threads 1`
against `--workers 2`, each a fresh process (interpreter start, imports and exit included).

Each mode runs in a fresh interpreter (so peak RSS is not inherited from an earlier mode):
    python bench/bench_batch.py [--repeat N]   # prints the table; N copies of each image
                                               # measure throughput past the per-worker warm-up
"""

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))
SETS = (
    (SHARED / "reference" / "images", SHARED / "reference" / "cpp"),
    (SHARED / "sample_images", SHARED / "sample_images" / "cpp"),
)
MODES = ("serial", "workers2", "dask2")


def stage_inputs(base: Path, repeat: int = 1):
    """Copy all images and their default-parameter C++ traces into base/images and base/cpp
    (repeat > 1: that many copies under new stems, to measure throughput past the warm-up)."""
    img, cpp = base / "images", base / "cpp"
    img.mkdir(), cpp.mkdir()
    from mtcnn_core.tools.batch.command import IMAGE_EXTS

    for idir, cdir in SETS:
        for p in sorted(idir.iterdir()):
            if p.suffix.lower() not in IMAGE_EXTS:
                continue
            for r in range(repeat):
                stem = p.stem if r == 0 else f"{p.stem}__copy{r}"
                shutil.copy(p, img / (stem + p.suffix))
                for ext in (".json", ".heatmaps.npz"):
                    if (cdir / (p.stem + ext)).exists():
                        shutil.copy(cdir / (p.stem + ext), cpp / (stem + ext))
    return img, cpp


def kib_to_mib(k):
    return k / 1024


def run_one(mode: str, base: Path) -> dict:
    """Run one mode in this process; wall time, image count and peak RSS of the workers (MiB)."""
    from mtcnn_core.tools.batch.command import find_images
    from mtcnn_core.tools.batch.run import run_batch

    img, cpp = base / "images", base / "cpp"
    options = {
        "params": dict(min_face_size=60, t1=0.6, t2=0.7, t3=0.7, pyramid_factor=0.709),
        "engine": "auto",
        "models": None,
        "heatmaps": False,
        "tol_px": 0.01,
        "tol_score": 1e-4,
    }
    paths, out = find_images([img]), base / f"out_{mode}"
    rss = None
    t0 = time.perf_counter()
    if mode == "dask2":
        from dask.distributed import Client, LocalCluster

        with LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        ) as cluster:
            t0 = time.perf_counter()  # cluster start-up is not batch throughput
            rows = run_batch(paths, out, cpp, options, scheduler=cluster.scheduler_address)
            dt = time.perf_counter() - t0
            t1 = time.perf_counter()
            run_batch(paths, base / f"out_{mode}_warm", cpp, options, scheduler=cluster.scheduler_address)
            warm = time.perf_counter() - t1
            with Client(cluster.scheduler_address) as c:
                peaks = c.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            rss = max(peaks.values())
    else:
        workers = 1 if mode == "serial" else 2
        rows = run_batch(paths, out, cpp, options, workers=workers)
        dt = time.perf_counter() - t0
        t1 = time.perf_counter()
        run_batch(paths, base / f"out_{mode}_warm", cpp, options, workers=workers)
        warm = time.perf_counter() - t1
        who = resource.RUSAGE_SELF if mode == "serial" else resource.RUSAGE_CHILDREN
        rss = resource.getrusage(who).ru_maxrss
    failed = sum(1 for r in rows if r["error"])
    ident = sum(1 for r in rows if r["bit_identical"] == "yes")
    return {
        "mode": mode,
        "images": len(rows),
        "seconds": dt,
        "warm_seconds": warm,
        "failed": failed,
        "bit_identical": ident,
        "peak_rss_mib": kib_to_mib(rss),
    }


def whole_command_seconds(base: Path, workers: int, rounds: int = 3) -> float:
    """Least wall time of the batch command over `rounds` runs, each into a fresh folder."""
    best = float("inf")
    for r in range(rounds):
        cmd = [sys.executable, "-m", "mtcnn_core", "batch", str(base / "images"), "--cpp", str(base / "cpp")]
        cmd += ["--out", str(base / f"cli_{workers}_{r}"), "--workers", str(workers), "--threads", "1"]
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(run_one(sys.argv[2], Path(os.environ["BENCH_BASE"]))))
        return
    with tempfile.TemporaryDirectory() as d:
        repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 1
        stage_inputs(Path(d), repeat)
        # one BLAS thread everywhere: the serial baseline is one core, each worker one core
        env = dict(os.environ, BENCH_BASE=d, OPENBLAS_NUM_THREADS="1")
        res = []
        for mode in MODES:
            p = subprocess.run(
                [sys.executable, __file__, "--one", mode], env=env, capture_output=True, text=True, check=True
            )
            res.append(json.loads(p.stdout.strip().splitlines()[-1]))
        whole = {w: whole_command_seconds(Path(d), w) for w in (1, 2)}
    base_cold, base_warm = res[0]["seconds"], res[0]["warm_seconds"]
    print(
        f"{'mode':<10}{'images':>7}{'cold s':>8}{'warm s':>8}{'warm img/s':>11}{'speed-up cold/warm':>20}"
        f"{'peak RSS/worker MiB':>21}{'bit-identical':>15}{'failed':>8}"
    )
    for r in res:
        up = f"{base_cold / r['seconds']:.2f}x / {base_warm / r['warm_seconds']:.2f}x"
        print(
            f"{r['mode']:<10}{r['images']:>7}{r['seconds']:>8.2f}{r['warm_seconds']:>8.2f}"
            f"{r['images'] / r['warm_seconds']:>11.1f}{up:>20}{r['peak_rss_mib']:>21.0f}"
            f"{r['bit_identical']:>15}{r['failed']:>8}"
        )
    print(f"({os.cpu_count()} CPU(s); dask times exclude cluster start-up)")
    print(
        f"whole command (fresh process, least of 3): serial {whole[1]:.2f} s, --workers 2 {whole[2]:.2f} s"
        f" ({whole[1] / whole[2]:.2f}x)"
    )


if __name__ == "__main__":
    main()
