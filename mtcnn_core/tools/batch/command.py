"""The `batch` subcommand: its arguments, the images it is given, the line it prints."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

from ..options import add_params, add_tolerances, params_of, threads_arg
from .outputs import OutputError
from .run import run_batch
from .summary import STATUS_NAMES, status_counts

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}


def add_batch_parser(subparsers):
    """Register the `batch` subcommand; its handler is `cmd_batch`."""
    b = subparsers.add_parser("batch", help="trace (and compare) many images; summary.csv + report.html")
    b.add_argument("inputs", nargs="+", help="image files and/or folders of images")
    b.add_argument("--out", required=True, help="output folder (required)")
    b.add_argument(
        "--cpp", default=None, help="folder of C++ <stem>.json / <stem>.csv references (default: none, no comparison)"
    )
    b.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="parallel worker processes, 1 = serial (default: CPU count, here %(default)s)",
    )
    b.add_argument(
        "--scheduler", default=None, help="dask.distributed scheduler, tcp://HOST:PORT (default: none, local processes)"
    )
    b.add_argument("--heatmaps", action="store_true", help="also write <stem>.heatmaps.npz (default: off)")
    add_tolerances(b)
    add_params(b)
    b.set_defaults(handler=cmd_batch)
    return b


def cmd_batch(a) -> int:
    """Run the batch described by parsed args; 0 only if no image failed."""
    from ...cascade import validate_params

    params = params_of(a)
    validate_params(**params)
    options = {
        "params": params,
        "engine": a.engine,
        "cpp_build": a.cpp_build,
        "threads": threads_arg(a.threads),
        "models": a.models,
        "heatmaps": a.heatmaps,
        "tol_px": a.tol_px,
        "tol_score": a.tol_score,
    }
    if a.custom_architecture:
        options["custom_architecture"] = True
    if a.allow_expensive:
        options["allow_expensive"] = True
    out = Path(a.out)
    if out.exists() and not out.is_dir():
        raise OSError(errno.ENOTDIR, "--out exists and is not a folder", str(out))
    try:
        rows = run_batch(
            find_images(a.inputs), Path(a.out), a.cpp and Path(a.cpp), options, workers=a.workers, scheduler=a.scheduler
        )
    except OutputError as e:
        print(file=sys.stderr)
        raise OSError(e.errno, e.strerror) from None
    counts = status_counts(rows)
    print(f"wrote {Path(a.out) / 'summary.csv'} and {Path(a.out) / 'report.html'}", file=sys.stderr)
    print(f"{len(rows)} image(s): " + ", ".join(f"{n} {counts[k]}" for k, n in STATUS_NAMES.items()))
    return 1 if counts["failed"] else 0


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
