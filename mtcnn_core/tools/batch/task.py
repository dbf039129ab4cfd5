"""The task (runs anywhere; bytes in, data out): one image detected and compared with its C++
reference, as plain data the client writes."""

from __future__ import annotations

import gc
import io
import json
import time
from pathlib import Path

from ...safe_io import MAX_IMAGE_BYTES, read_regular_file
from .outputs import npz_bytes
from .summary import empty_row, row_from_report
from .worker import _init_worker


def make_task(path: Path, cpp_dir, options, stem: str | None = None) -> dict:
    """Everything a worker needs, as plain data: image bytes and the C++ reference bytes if any.
    `stem` names the outputs (see output_stems); the C++ reference is looked up by path.stem."""
    task = {
        "name": path.name,
        "stem": stem or path.stem,
        "options": options,
        "image": None,
        "read_error": None,
        "cpp": None,
        "cpp_name": None,
        "cpp_heatmaps": None,
    }
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


def run_task(task: dict, single_thread: bool = True) -> dict:
    """Detect (and compare) one image; never raises: errors come back in result['row']['error'].

    single_thread: worker processes (pool, dask) use one thread each; a serial run keeps the
    kernels' own threads (results do not depend on the thread count)."""
    if single_thread:
        _init_worker()
        warm_process(task["options"])  # a dask worker's first task: nothing inherited (pool workers skip it)
    task = dict(task, threads=1 if single_thread else task["options"].get("threads", 1))
    res = {
        "stem": task["stem"],
        "trace_json": None,
        "npz": None,
        "compare_json": None,
        "row": empty_row(task["name"]),
        "extra": {},
    }
    try:
        _detect_and_compare(task, res)
    except Exception as e:  # a bad file or a worker bug fails this row only
        res["row"]["error"] = _reason(e)
    return res


def _reason(e) -> str:
    """One-line failure reason."""
    msg = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def _detect_and_compare(task, res):
    """Fill `res` in place: trace JSON, optional npz, compare JSON and the summary row."""
    from ... import detect_bytes, load_models

    row, opt = res["row"], task["options"]
    if task["read_error"] and task["image"] is None:
        raise OSError(task["read_error"])
    t0 = time.perf_counter()
    models = load_models(opt["models"], custom_architecture=opt.get("custom_architecture", False))
    from ...cost import DEFAULT_BUDGET_PIXELS

    budget = None if opt.get("allow_expensive") else DEFAULT_BUDGET_PIXELS

    def run(build):
        return detect_bytes(
            task["image"],
            task["name"],
            models=models,
            budget=budget,
            engine=opt["engine"],
            cpp_build=build,
            threads=task.get("threads", 1),
            cache=False,
            **opt["params"],
        )  # each image once: nothing to reuse

    trace = run(opt.get("cpp_build", "avx512"))
    row["time_ms"] = f"{(time.perf_counter() - t0) * 1000:.1f}"
    trace.timing_ms = {}  # keep outputs deterministic; the time is in summary.csv
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
    from ... import compare
    from ...trace import load_any

    opt, row = task["options"], res["row"]
    try:
        ref = load_any(task["cpp"], name=task["cpp_name"], heatmaps=None)
        if task["cpp_heatmaps"] is not None and ref.has_stages:
            from ...trace import attach_heatmaps

            attach_heatmaps(ref, io.BytesIO(task["cpp_heatmaps"]), task["cpp_name"])
    except Exception as e:
        raise ValueError(f"bad C++ reference {task['cpp_name']}: {_reason(e)}") from None
    rep = compare(ref, trace, tol_px=opt["tol_px"], tol_score=opt["tol_score"])
    res["compare_json"] = (
        json.dumps(
            rep.to_dict() | {"cpp_build_match": _build_match(ref, rep, trace, run_build)},
            indent=1,
            sort_keys=True,
            default=float,
        )
        + "\n"
    )
    res["extra"].update(row_from_report(rep, row), cpp_boxes=ref.detections.boxes.tolist())


def _build_match(ref, rep, trace, run_build) -> str:
    """Which OpenFace build the C++ reference matches bit for bit: the run's own build, else the
    other one (run only then), else 'neither'."""
    from ...identify import identical
    from ...kernels import BUILDS

    own = trace.params.get("cpp_build", "avx512")
    if identical(rep):
        return own
    other = next(b for b in BUILDS if b != own)
    from ... import compare

    return other if identical(compare(ref, run_build(other))) else "neither"


_warmed = False


def warm_process(options) -> None:
    """Run the per-image path (decode, detect, trace JSON, load and compare) once per process,
    untimed, on a small synthetic image: the kernels load, lazy imports and first calls happen
    here rather than in the first image's time_ms, and forked pool workers inherit them ready."""
    global _warmed
    if _warmed:
        return
    import cv2
    import numpy as np

    from ... import compare
    from ...kernels import warm_up
    from ...trace import load_any

    warm_up()
    image = np.zeros((128, 128, 3), np.uint8)
    cv2.circle(image, (64, 64), 40, (190, 170, 150), -1)
    task = {
        "name": "warm-up.png",
        "stem": "warm-up",
        "options": options,
        "threads": 1,
        "image": cv2.imencode(".png", image)[1].tobytes(),
        "read_error": None,
        "cpp": None,
        "cpp_name": None,
        "cpp_heatmaps": None,
    }
    res = {
        "stem": "warm-up",
        "trace_json": None,
        "npz": None,
        "compare_json": None,
        "row": empty_row("warm-up.png"),
        "extra": {},
    }
    try:
        _detect_and_compare(task, res)
        trace = load_any(res["trace_json"].encode(), name="warm-up.json", heatmaps=None)
        compare(trace, trace, tol_px=options["tol_px"], tol_score=options["tol_score"])
    except Exception:  # noqa: BLE001 - only a warm-up: the real images report their own errors
        pass
    # What is loaded by now (modules, numba's registries, kernels, models) lives as long as the
    # process: out of the collector's full passes (the first, in the first image, took ~55 ms).
    gc.freeze()
    _warmed = True
