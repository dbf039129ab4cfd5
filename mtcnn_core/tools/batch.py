"""`python -m mtcnn_core batch`: trace many images, compare each with a C++ reference, summarise.

Work is one pure function, `run_task(task) -> result`, taking bytes and returning data (JSON text,
npz bytes, a summary row), so the same function runs in-process, in a ProcessPoolExecutor or on a
dask.distributed cluster; only the client process writes files. Outputs are deterministic (the
per-stage timings are kept out of the trace JSON and the npz has fixed zip timestamps), so a serial
run, a process-pool run and a cluster run give byte-identical files, except the `time_ms` column.
Every file is written atomically and `<stem>.row.json` is written last, so a rerun skips finished
images and a killed batch resumes. numpy/cv2/stdlib only at import; dask is imported lazily.
"""
from __future__ import annotations

import base64
import csv
import errno
import html
import io
import json
import math
import os
import sys
import time
import zipfile
from pathlib import Path

import cv2

from ..safe_io import MAX_IMAGE_BYTES, read_regular_file
import numpy as np

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
SUMMARY_FIELDS = ["file", "faces_cpp", "faces_py", "bit_identical", "first_divergent_stage",
                  "max_abs_dx", "max_abs_dy", "max_abs_dw", "max_abs_dh", "min_iou",
                  "max_dconfidence", "time_ms", "error"]
ROW_VERSION = 1
DASK_CONNECT_TIMEOUT_S = 10


# ---- CLI ----------------------------------------------------------------------------------
def add_batch_parser(subparsers, add_params):
    """Register the `batch` subcommand; its handler is `cmd_batch`."""
    b = subparsers.add_parser("batch", help="trace (and compare) many images; summary.csv + report.html")
    b.add_argument("inputs", nargs="+", help="image files and/or folders of images")
    b.add_argument("--out", required=True, help="output folder (required)")
    b.add_argument("--cpp", default=None,
                   help="folder of C++ <stem>.json / <stem>.csv references (default: none, no comparison)")
    b.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="parallel worker processes, 1 = serial (default: CPU count, here %(default)s)")
    b.add_argument("--scheduler", default=None,
                   help="dask.distributed scheduler, tcp://HOST:PORT (default: none, local processes)")
    b.add_argument("--heatmaps", action="store_true", help="also write <stem>.heatmaps.npz (default: off)")
    b.add_argument("--tol-px", type=float, default=0.01,
                   help="largest box coordinate difference, in px, still within tolerance (default: %(default)s)")
    b.add_argument("--tol-score", type=float, default=1e-4,
                   help="largest score difference still within tolerance (default: %(default)s)")
    add_params(b)
    b.set_defaults(handler=cmd_batch)
    return b


def cmd_batch(a) -> int:
    """Run the batch described by parsed args; 0 only if no image failed."""
    from ..cascade import validate_params
    params = dict(min_face_size=a.min_face_size, t1=a.t1, t2=a.t2, t3=a.t3,
                  pyramid_factor=a.pyramid_factor)
    validate_params(**params)
    from .options import threads_arg
    options = {"params": params, "engine": a.engine, "cpp_build": a.cpp_build,
               "threads": threads_arg(a.threads), "models": a.models, "heatmaps": a.heatmaps,
               "tol_px": a.tol_px, "tol_score": a.tol_score}
    if a.custom_architecture:
        options["custom_architecture"] = True
    if a.allow_expensive:
        options["allow_expensive"] = True
    out = Path(a.out)
    if out.exists() and not out.is_dir():
        raise OSError(errno.ENOTDIR, "--out exists and is not a folder", str(out))
    try:
        rows = run_batch(find_images(a.inputs), Path(a.out), a.cpp and Path(a.cpp), options,
                         workers=a.workers, scheduler=a.scheduler)
    except OutputError as e:
        print(file=sys.stderr)
        raise OSError(e.errno, e.strerror) from None
    counts = status_counts(rows)
    print(f"wrote {Path(a.out) / 'summary.csv'} and {Path(a.out) / 'report.html'}", file=sys.stderr)
    print(f"{len(rows)} image(s): " + ", ".join(f"{n} {counts[k]}" for k, n in STATUS_NAMES.items()))
    return 1 if counts["failed"] else 0


STATUS_NAMES = {"identical": "bit-identical", "tol": "within tolerance", "diverges": "diverging",
                "failed": "failed", "nocpp": "no C++"}


def row_status(row: dict) -> str:
    """identical / tol / diverges / failed / nocpp from a summary row alone (as `classify`: a row
    that is not bit-identical has a first divergent stage only if some stage is beyond tolerance)."""
    if row["error"]:
        return "failed"
    if row["bit_identical"] == "":
        return "nocpp"
    if row["bit_identical"] == "yes":
        return "identical"
    return "diverges" if row["first_divergent_stage"] else "tol"


def status_counts(rows) -> dict:
    """Number of rows per status, every status present."""
    kinds = [row_status(r) for r in rows]
    return {k: kinds.count(k) for k in STATUS_NAMES}


def find_images(inputs) -> list:
    """Image paths from files and folders (folders: image extensions only, sorted by name)."""
    out = []
    for s in inputs:
        p = Path(s)
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in IMAGE_EXTS)
        else:
            out.append(p)
    return out


# ---- the task (runs anywhere; bytes in, data out) ---------------------------------------------
def make_task(path: Path, cpp_dir, options, stem: str | None = None) -> dict:
    """Everything a worker needs, as plain data: image bytes and the C++ reference bytes if any.
    `stem` names the outputs (see output_stems); the C++ reference is looked up by path.stem."""
    task = {"name": path.name, "stem": stem or path.stem, "options": options, "image": None,
            "read_error": None, "cpp": None, "cpp_name": None, "cpp_heatmaps": None}
    try:
        task["image"] = read_regular_file(path, MAX_IMAGE_BYTES)
    except OSError as e:
        task["read_error"] = f"cannot read image ({e.strerror or e})"
    ref = find_reference(cpp_dir, path.stem) if cpp_dir else None
    if ref is not None:
        task["cpp_name"] = ref.name
        try:
            task["cpp"] = ref.read_bytes()
            hm = ref.with_name(path.stem + ".heatmaps.npz")
            if ref.suffix == ".json" and hm.exists():
                task["cpp_heatmaps"] = hm.read_bytes()
        except OSError as e:
            task["cpp"] = None
            task["read_error"] = f"cannot read C++ reference ({e.strerror or e})"
    return task


def find_reference(cpp_dir: Path, stem: str):
    """`<stem>.json`, else `<stem>.csv` in the C++ folder, else None."""
    for ext in (".json", ".csv"):
        p = Path(cpp_dir) / (stem + ext)
        if p.is_file():
            return p
    return None


_worker_ready = False


def keep_freed_memory():
    """Ask glibc to keep freed memory for reuse instead of trimming/unmapping it at once.

    Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, so every large numpy temporary
    page-faults afresh (measured ~20 % slower per image); raising the trim and mmap thresholds
    with mallopt undoes that however the worker was started. No-op off glibc.
    """
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_trim_threshold, 1 << 30)
        libc.mallopt(m_mmap_threshold, 1 << 29)
    except (OSError, AttributeError):
        pass


def exit_with_parent():
    """Make this worker process end when the process that started it dies (killed or crashed):
    the kernel's parent-death signal on Linux, and a watcher thread on the parent pid anywhere."""
    import threading
    parent = os.getppid()
    try:
        import ctypes
        import signal
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)          # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:                                # died before the signal was set
        os._exit(1)

    def watch():
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)
    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _init_worker():
    """Single-threaded maths in each worker: parallelism comes from processes, not threads."""
    global _worker_ready
    if not _worker_ready:
        exit_with_parent()
        keep_freed_memory()
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
        from ..engine_info import set_blas_threads
        set_blas_threads(1)   # a forked worker inherits the parent's already-started BLAS
        _worker_ready = True


def run_task(task: dict, single_thread: bool = True) -> dict:
    """Detect (and compare) one image; never raises: errors come back in result['row']['error'].

    single_thread: worker processes (pool, dask) use one thread each; a serial run keeps the
    kernels' own threads (results do not depend on the thread count)."""
    if single_thread:
        _init_worker()
    task = dict(task, threads=1 if single_thread else task["options"].get("threads", 1))
    res = {"stem": task["stem"], "trace_json": None, "npz": None, "compare_json": None,
           "row": empty_row(task["name"]), "extra": {}}
    try:
        _detect_and_compare(task, res)
    except Exception as e:  # a bad file or a worker bug fails this row only
        res["row"]["error"] = _reason(e)
    return res


def _reason(e) -> str:
    """One-line failure reason."""
    msg = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def empty_row(name) -> dict:
    return {k: "" for k in SUMMARY_FIELDS} | {"file": name}


def _detect_and_compare(task, res):
    """Fill `res` in place: trace JSON, optional npz, compare JSON and the summary row."""
    from .. import detect_bytes, load_models
    row, opt = res["row"], task["options"]
    if task["read_error"] and task["image"] is None:
        raise OSError(task["read_error"])
    t0 = time.perf_counter()
    models = load_models(opt["models"], custom_architecture=opt.get("custom_architecture", False))
    from ..cost import DEFAULT_BUDGET_PIXELS
    budget = None if opt.get("allow_expensive") else DEFAULT_BUDGET_PIXELS

    def run(build):
        return detect_bytes(task["image"], task["name"], models=models, budget=budget,
                            engine=opt["engine"], cpp_build=build, threads=task.get("threads", 1),
                            cache=False, **opt["params"])     # each image once: nothing to reuse

    trace = run(opt.get("cpp_build", "avx512"))
    row["time_ms"] = f"{(time.perf_counter() - t0) * 1000:.1f}"
    trace.timing_ms = {}          # keep outputs deterministic; the time is in summary.csv
    res["trace_json"] = trace.to_json()
    if opt["heatmaps"] and trace.heatmaps():
        res["npz"] = npz_bytes(trace.heatmaps())
    row["faces_py"] = len(trace.detections)
    res["extra"]["py_boxes"] = trace.detections.boxes.tolist()
    if task["read_error"]:
        raise OSError(task["read_error"])
    if task["cpp"] is not None:
        _compare_into(task, trace, res, run)


def _compare_into(task, trace, res, run_build):
    """Load the C++ reference, compare, and put the report and its summary into `res`."""
    from .. import compare
    from ..trace import load_any
    opt, row = task["options"], res["row"]
    try:
        ref = load_any(task["cpp"], name=task["cpp_name"], heatmaps=None)
        if task["cpp_heatmaps"] is not None and ref.has_stages:
            from ..trace import attach_heatmaps
            attach_heatmaps(ref, io.BytesIO(task["cpp_heatmaps"]), task["cpp_name"])
    except Exception as e:
        raise ValueError(f"bad C++ reference {task['cpp_name']}: {_reason(e)}") from None
    rep = compare(ref, trace, tol_px=opt["tol_px"], tol_score=opt["tol_score"])
    res["compare_json"] = json.dumps(rep.to_dict() | {"cpp_build_match": _build_match(ref, rep, trace, run_build)},
                                     indent=1, sort_keys=True, default=float) + "\n"
    res["extra"].update(row_from_report(rep, row), cpp_boxes=ref.detections.boxes.tolist())


def _build_match(ref, rep, trace, run_build) -> str:
    """Which OpenFace build the C++ reference matches bit for bit: the run's own build, else the
    other one (run only then), else 'neither'."""
    from ..identify import identical
    from ..kernels import BUILDS
    own = trace.params.get("cpp_build", "avx512")
    if identical(rep):
        return own
    other = next(b for b in BUILDS if b != own)
    from .. import compare
    return other if identical(compare(ref, run_build(other))) else "neither"


def row_from_report(rep, row) -> dict:
    """Fill the summary columns from a CompareReport; return extras for report.html."""
    det = rep.stage("detections")
    row["faces_cpp"] = det.ref_count
    row["bit_identical"] = "yes" if rep.bit_identical else "no"
    row["first_divergent_stage"] = rep.first_divergent or ""
    for k in ("dx", "dy", "dw", "dh"):
        row[f"max_abs_{k}"] = _fmt(max((abs(getattr(p, k)) for p in det.pairs), default=0.0))
    row["min_iou"] = _fmt(det.min_iou)
    row["max_dconfidence"] = _fmt(det.max_dscore)
    deltas = [abs(float(getattr(p, k))) for p in det.pairs for k in ("dx", "dy", "dw", "dh")]
    stages = {s.name: ("identical" if s.bit_identical else "tol" if s.within_tolerance else "diverges")
              for s in rep.stages}
    return {"ok": rep.ok, "deltas": deltas, "stages": stages}


def _fmt(v) -> str:
    return repr(float(v))


def npz_bytes(arrays: dict) -> bytes:
    """An .npz like np.savez_compressed, but with fixed zip timestamps (byte-reproducible)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(arrays):
            zi = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            with z.open(zi, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asarray(arrays[name]), allow_pickle=False)
    return buf.getvalue()


# ---- files (client side only) -------------------------------------------------------------
def atomic_write(path: Path, data):
    """Write via a temp file in the same folder + os.replace, so readers never see half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def outputs_for(out: Path, stem: str, res: dict) -> dict:
    """{path: data} of the per-image files of a result (row.json not included)."""
    files = {out / f"{stem}.json": res["trace_json"], out / f"{stem}.heatmaps.npz": res["npz"],
             out / f"{stem}.compare.json": res["compare_json"]}
    return {p: d for p, d in files.items() if d is not None}


def save_result(out: Path, res: dict, options: dict):
    """Write the result's files, then `<stem>.row.json` (the completion marker) for successes."""
    stem = res["stem"]
    files = outputs_for(out, stem, res)
    for p, d in files.items():
        atomic_write(p, d)
    if not res["row"]["error"]:
        marker = {"version": ROW_VERSION, "options": options, "row": res["row"],
                  "extra": res["extra"], "files": sorted(p.name for p in files),
                  "input": res.get("input")}
        atomic_write(out / f"{stem}.row.json", json.dumps(marker, sort_keys=True))


def content_key(path: Path) -> dict | None:
    """{'size', 'sha256'} of an input file (streamed), or None if unreadable."""
    import hashlib
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError:
        return None
    return {"size": size, "sha256": h.hexdigest()}


def load_done(out: Path, stem: str, options: dict, has_cpp: bool, key: dict | None = None):
    """The saved result of a finished image with the same options and, when `key` is given, the
    same input content (size + SHA-256), or None (then redo it)."""
    try:
        m = json.loads((out / f"{stem}.row.json").read_text())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(m, dict) or (key is not None and m.get("input") != key):
        return None
    want = {f"{stem}.json"} | ({f"{stem}.compare.json"} if has_cpp else set())
    if (m.get("version") != ROW_VERSION or m.get("options") != options
            or not want <= set(m.get("files", []))
            or not all((out / f).is_file() for f in m.get("files", []))):
        return None
    return {"stem": stem, "row": m["row"], "extra": m["extra"]}


# ---- running --------------------------------------------------------------------------------
class OutputError(OSError):
    """Writing the batch's outputs failed (disk full, unwritable folder): the run stops there."""


def run_batch(paths, out: Path, cpp_dir, options, workers=1, scheduler=None) -> list:
    """Process every image (skipping finished ones whose content is unchanged), write summary.csv
    and report.html; rows. If writing fails, the finished rows are kept, the summary of what is
    done is written if possible, and OutputError (one line) is raised."""
    out.mkdir(parents=True, exist_ok=True)
    options = json.loads(json.dumps(options))        # plain JSON types, as stored in row.json
    stems = output_stems(paths)
    paths = list(stems)
    results, todo, keys = {}, [], {}
    for p in paths:
        keys[p] = content_key(p)
        has_cpp = bool(cpp_dir and find_reference(cpp_dir, p.stem))
        done = load_done(out, stems[p], options, has_cpp, keys[p] or {})
        if done is not None:
            results[p] = done
        else:
            todo.append(p)
    progress = Progress(len(paths), len(results))
    failure = None
    runner = _execute(todo, cpp_dir, options, workers, scheduler, stems)
    try:
        for path, res in runner:
            res["input"] = keys.get(path)
            try:
                save_result(out, res, options)
            except OSError as e:
                failure = OutputError(e.errno, f"cannot write the outputs of {path.name} in {out}: "
                                               f"{e.strerror or e}")
                break
            results[path] = res
            progress.step()
    finally:
        runner.close()          # stops the workers (and frees the pool) on any exit
        progress.close()
    ordered = [results[p] for p in paths if p in results]
    try:
        write_summary(out / "summary.csv", [r["row"] for r in ordered])
        atomic_write(out / "report.html", render_report(ordered, {stems[p]: p for p in paths}, out))
    except OSError as e:
        failure = failure or OutputError(e.errno, f"cannot write summary.csv/report.html in {out}: "
                                                  f"{e.strerror or e}")
    if failure is not None:
        raise failure
    return [r["row"] for r in ordered]


RESERVED_SUFFIXES = (".row", ".compare", ".heatmaps")


def output_stems(paths) -> dict:
    """{resolved path: output stem}, unique for every distinct input (in order; a path given
    twice counts once).

    An input keeps its plain stem (`a.jpg` -> a.json, as before) when no other input shares it and
    it cannot be mistaken for another's output (`x.row.png`); otherwise its whole file name is
    used (`a.png` -> a.png.json), plus a short hash of its path when even that repeats (the same
    name in two folders)."""
    import hashlib
    from collections import Counter
    uniq = list(dict.fromkeys(Path(p).resolve() for p in paths))
    stems = Counter(p.stem.lower() for p in uniq)
    names = Counter(p.name.lower() for p in uniq)
    out = {}
    for p in uniq:
        if stems[p.stem.lower()] == 1 and not p.stem.lower().endswith(RESERVED_SUFFIXES):
            out[p] = p.stem
        elif names[p.name.lower()] == 1:
            out[p] = p.name
        else:
            out[p] = f"{p.name}-{hashlib.sha256(str(p).encode()).hexdigest()[:8]}"
    clash = Counter(v.lower() for v in out.values())
    for p, v in out.items():       # e.g. a plain stem equal to another input's full file name
        if clash[v.lower()] > 1:
            out[p] = f"{p.name}-{hashlib.sha256(str(p).encode()).hexdigest()[:8]}"
    return out


def _execute(todo, cpp_dir, options, workers, scheduler, stems):
    """Yield (path, result) as they finish: on a dask cluster, in worker processes, or serially."""
    if not todo:
        return
    if scheduler:
        yield from _run_dask(largest_first(todo), cpp_dir, options, scheduler, stems)
    elif workers and workers > 1 and len(todo) > 1:
        yield from _run_pool(largest_first(todo), cpp_dir, options, workers, stems)
    else:
        keep_freed_memory()
        for p in todo:
            yield p, run_task(make_task(p, cpp_dir, options, stems[p]), single_thread=False)


def largest_first(paths) -> list:
    """Biggest images (by declared pixel count) first, so parallel workers finish together."""
    from ..images import declared_size

    def pixels(p):
        try:
            with open(p, "rb") as f:
                size = declared_size(f.read(1 << 18))
        except OSError:
            size = None
        return size[0] * size[1] if size else 0
    return sorted(paths, key=pixels, reverse=True)


#: Images read and in flight per worker (bounds the client's memory: one task holds the image's bytes).
IN_FLIGHT_PER_WORKER = 2


def _new_pool(workers):
    from concurrent.futures import ProcessPoolExecutor
    from ..kernels import warm_up
    warm_up()   # load (or compile) the kernels once here: forked workers inherit them, ready
    return ProcessPoolExecutor(max_workers=workers, initializer=_init_worker)


def _run_pool(todo, cpp_dir, options, workers, stems):
    """A process pool with at most IN_FLIGHT_PER_WORKER images per worker in flight. A worker that
    dies (killed, crashed) breaks the pool: the pool is replaced, and the images that were in
    flight are retried one at a time in a fresh single-worker pool, so only the image that kills
    its worker fails (its row says so) and the batch goes on."""
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # inherited by the workers at start
    workers = min(workers, len(todo))
    queue, pool, running = list(reversed(todo)), _new_pool(workers), {}
    try:
        while queue or running:
            while queue and len(running) < workers * IN_FLIGHT_PER_WORKER:
                p = queue.pop()
                try:
                    running[pool.submit(run_task, make_task(p, cpp_dir, options, stems[p]))] = p
                except BrokenProcessPool:
                    queue.append(p)
                    break
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            broken = []
            for f in done:
                p = running.pop(f)
                if isinstance(f.exception(), BrokenProcessPool):
                    broken.append(p)
                else:
                    yield p, _result_or_failure(f, p, stems[p])
            if broken or getattr(pool, "_broken", False):
                broken += list(running.values())
                running.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                for p in broken:
                    yield p, _run_isolated(p, cpp_dir, options, stems[p])
                pool = _new_pool(workers)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _run_isolated(path, cpp_dir, options, stem) -> dict:
    """One image in its own single-worker pool: its result, or a failed row if its worker dies."""
    pool = _new_pool(1)
    try:
        f = pool.submit(run_task, make_task(path, cpp_dir, options, stem))
        f.exception()
        res = _result_or_failure(f, path, stem)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if res["row"]["error"].startswith("worker: BrokenProcessPool"):
        res["row"]["error"] = "worker: the process running this image died (killed or crashed)"
    return res


def _run_dask(todo, cpp_dir, options, address, stems):
    """Same task function on a dask.distributed cluster; bytes go out, data comes back."""
    from dask.distributed import Client, as_completed
    with Client(address, timeout=DASK_CONNECT_TIMEOUT_S) as client:
        futs = {client.submit(run_task, make_task(p, cpp_dir, options, stems[p]), pure=False): p
                for p in todo}
        for f in as_completed(list(futs)):
            yield futs[f], _result_or_failure(f, futs[f], stems[futs[f]])


def _result_or_failure(future, path, stem=None) -> dict:
    """The future's result, or a failed row naming the exception."""
    try:
        return future.result()
    except BaseException as e:  # noqa: BLE001 - worker died, pickling failed, ...
        res = {"stem": stem or path.stem, "trace_json": None, "npz": None, "compare_json": None,
               "row": empty_row(path.name), "extra": {}}
        res["row"]["error"] = "worker: " + _reason(e)
        return res


class Progress:
    """One updating stderr line: done/total, images/s and ETA. With work to do it appears at the
    first finished image, so a batch that fails before any (e.g. an unreachable scheduler) writes
    only its one-line error."""

    def __init__(self, total, done):
        self.total, self.done, self.start_done, self.t0 = total, done, done, time.monotonic()
        self.shown = False
        if done == total:
            self.show()

    def step(self):
        self.done += 1
        self.show()

    def show(self):
        n, dt = self.done - self.start_done, max(time.monotonic() - self.t0, 1e-9)
        rate = n / dt
        eta = f"{(self.total - self.done) / rate:.0f}s" if rate > 0 else "?"
        sys.stderr.write(f"\r{self.done}/{self.total} images  {rate:.2f} images/s  ETA {eta}   ")
        sys.stderr.flush()
        self.shown = True

    def close(self):
        if self.shown:
            sys.stderr.write("\n")


def write_summary(path: Path, rows):
    """summary.csv, one row per image, in input order."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in SUMMARY_FIELDS})
    atomic_write(path, buf.getvalue())


# ---- report.html ----------------------------------------------------------------------------
CSS = """body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}
.tot span{display:inline-block;margin-right:1.5em;font-size:1.2em}.ok{color:#080}.tol{color:#a60}
.bad{color:#c00}.thumbs div{display:inline-block;margin:6px;vertical-align:top;font-size:.8em}
.legend b{padding:0 6px}"""


def classify(res) -> str:
    """failed / identical / tol / diverges / nocpp (row_status of the result's summary row)."""
    return row_status(res["row"])


def render_report(results, paths: dict, out: Path) -> str:
    """Self-contained HTML: totals, delta histogram, per-stage divergence, worst thumbnails."""
    kinds = [classify(r) for r in results]
    tot = {k: kinds.count(k) for k in ("identical", "tol", "diverges", "failed", "nocpp")}
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>MTCNN batch report</title>"
             f"<style>{CSS}</style></head><body><h1>MTCNN batch report</h1>",
             f"<p>{len(results)} image(s)</p><p class='tot'>"
             f"<span class='ok'>bit-identical: {tot['identical']}</span>"
             f"<span class='tol'>within tolerance: {tot['tol']}</span>"
             f"<span class='bad'>diverging: {tot['diverges']}</span>"
             f"<span class='bad'>failed: {tot['failed']}</span>"
             f"<span>no C++ reference: {tot['nocpp']}</span></p>",
             "<h2>Final-box coordinate deltas |dx|,|dy|,|dw|,|dh| (px)</h2>",
             histogram_svg([d for r in results for d in r["extra"].get("deltas", [])]),
             "<h2>Stages per image</h2>", stage_table(results), "<h2>Worst images</h2>",
             "<p class='legend'><b style='color:#00c'>C++ (wide)</b>"
             "<b style='color:#d00'>Python (thin, on top)</b></p>",
             thumbnails(results, kinds, paths), failures_table(results),
             "</body></html>\n"]
    return "".join(parts)


HIST_BINS = [("0", None, 0.0), ("<1e-6", 0.0, 1e-6), ("<1e-4", 1e-6, 1e-4), ("<1e-2", 1e-4, 1e-2),
             ("<1", 1e-2, 1.0), ("≥1", 1.0, math.inf)]


def histogram_svg(deltas) -> str:
    """Inline SVG bar chart of deltas in decade bins (exact zeros get their own bar)."""
    counts = []
    for _, lo, hi in HIST_BINS:
        counts.append(sum(1 for d in deltas if (d == 0.0 if lo is None else lo < d <= hi
                                                 if hi != math.inf else d > lo)))
    top, w, h = max(counts + [1]), 70, 160
    bars = []
    for i, ((label, _, _), c) in enumerate(zip(HIST_BINS, counts)):
        bh = 0 if c == 0 else max(2, round(h * c / top))
        x = 10 + i * (w + 10)
        bars.append(f"<rect x='{x}' y='{20 + h - bh}' width='{w}' height='{bh}' fill='#48a'/>"
                    f"<text x='{x + w / 2}' y='{15 + h - bh}' text-anchor='middle'>{c}</text>"
                    f"<text x='{x + w / 2}' y='{h + 38}' text-anchor='middle'>{html.escape(label)}</text>")
    width = 10 + len(HIST_BINS) * (w + 10)
    return (f"<svg width='{width}' height='{h + 50}' "
            f"font-size='12'>{''.join(bars)}</svg><p>{len(deltas)} value(s) from paired final boxes</p>")


def stage_table(results) -> str:
    """Per stage: images where it is bit-identical / only within tolerance / diverging."""
    counts = {}
    for r in results:
        for name, v in r["extra"].get("stages", {}).items():
            counts.setdefault(name, {"identical": 0, "tol": 0, "diverges": 0})[v] += 1
    first = {}
    for r in results:
        s = r["row"]["first_divergent_stage"]
        if s:
            first[s] = first.get(s, 0) + 1
    rows = "".join(f"<tr><td style='text-align:left'>{html.escape(n)}</td><td>{c['identical']}</td>"
                   f"<td>{c['tol']}</td><td>{c['diverges']}</td><td>{first.get(n, 0)}</td></tr>"
                   for n, c in sorted(counts.items(), key=lambda kv: _stage_key(kv[0])))
    return ("<table><tr><th>stage</th><th>identical</th><th>within tol</th><th>diverges</th>"
            f"<th>first divergent here</th></tr>{rows}</table>" if rows else "<p>no comparisons</p>")


def _stage_key(name):
    order = ["pyramid", "pnet.scale", "pnet.merged", "rnet.input", "rnet.scores", "rnet.kept",
             "onet.input", "onet.scores", "onet.kept", "detections"]
    base = next((i for i, o in enumerate(order) if name.startswith(o)), len(order))
    num = int(name[10:]) if name.startswith("pnet.scale") and name[10:].isdigit() else 0
    return (base, num, name)


def _badness(res, kind) -> tuple:
    """Sort key: failed/diverging first, then by largest coordinate delta."""
    rank = {"failed": 0, "diverges": 1, "tol": 2, "identical": 3, "nocpp": 4}[kind]
    return (rank, -max(res["extra"].get("deltas", []) or [0.0]), res["row"]["file"])


def thumbnails(results, kinds, paths, n=8) -> str:
    """The n worst images as base64 PNG thumbnails with C++ (blue) and Python (red) boxes."""
    order = sorted(range(len(results)), key=lambda i: _badness(results[i], kinds[i]))[:n]
    cells = []
    for i in order:
        r = results[i]
        uri = thumbnail_uri(paths.get(r["stem"]), r["extra"])
        img = f"<img src='{uri}' alt='{html.escape(r['row']['file'])}'>" if uri else "<i>no preview</i>"
        cells.append(f"<div>{img}<br>{html.escape(r['row']['file'])}: {kinds[i]}"
                     f"<br>{html.escape(r['row']['error'] or r['row']['first_divergent_stage'])}</div>")
    return f"<div class='thumbs'>{''.join(cells)}</div>"


def thumbnail_uri(path, extra, size=220):
    """data: URI of a PNG thumbnail with both box sets drawn, or None if unreadable."""
    try:
        from ..images import decode_image
        img = decode_image(Path(path).read_bytes(), name=str(path)).image
    except Exception:
        return None
    s = size / max(img.shape[:2])
    th = cv2.resize(img, (max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s))),
                    interpolation=cv2.INTER_AREA)
    # C++ drawn 3 px wide under a 1 px Python box, so identical boxes still show both colours
    for key, colour, width in (("cpp_boxes", (204, 0, 0), 3), ("py_boxes", (0, 0, 221), 1)):
        for x, y, w, h in extra.get(key, []):
            cv2.rectangle(th, (round(x * s), round(y * s)), (round((x + w) * s), round((y + h) * s)),
                          colour, width)
    ok, png = cv2.imencode(".png", th)
    return "data:image/png;base64," + base64.b64encode(png.tobytes()).decode() if ok else None


def failures_table(results) -> str:
    """Failed rows with their reasons."""
    bad = [r["row"] for r in results if r["row"]["error"]]
    if not bad:
        return ""
    rows = "".join(f"<tr><td style='text-align:left'>{html.escape(r['file'])}</td>"
                   f"<td style='text-align:left'>{html.escape(r['error'])}</td></tr>" for r in bad)
    return f"<h2>Failures</h2><table><tr><th>file</th><th>reason</th></tr>{rows}</table>"
