"""Command line: `python -m mtcnn_core detect|trace|compare ...` (bad input: one line, exit 2)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import MTCNNInputError
from .options import add_params, add_tolerances, params_of, threads_arg


def run_detect(image_path, a):
    """Load the image and models, validate parameters, and return the Trace."""
    from .. import detect_bytes, load_models
    from ..cascade import validate_params
    from ..safe_io import MAX_IMAGE_BYTES, read_regular_file

    validate_params(**params_of(a))
    try:
        data = read_regular_file(image_path, MAX_IMAGE_BYTES)
    except OSError as e:
        raise MTCNNInputError(f"{image_path}: cannot read ({e.strerror or e})") from None
    models = load_models(a.models, custom_architecture=a.custom_architecture)
    from ..cost import DEFAULT_BUDGET_PIXELS

    budget = None if a.allow_expensive else DEFAULT_BUDGET_PIXELS
    return detect_bytes(
        data,
        Path(image_path).name,
        models=models,
        engine=a.engine,
        budget=budget,
        cpp_build=a.cpp_build,
        threads=threads_arg(a.threads),
        **params_of(a),
    )


def cmd_detect(a):
    trace = run_detect(a.image, a)
    for w in trace.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if a.json:
        from ..trace import _rows

        print(
            json.dumps(
                {
                    "image": trace.image,
                    "params": trace.params,
                    "detections": _rows(trace.detections),
                    "warnings": trace.warnings,
                }
            )
        )
    else:
        print(f"{len(trace.detections)} face(s)")
        for (x, y, w, h), c in zip(trace.detections.boxes, trace.detections.scores):
            print(f"x={x:.2f} y={y:.2f} w={w:.2f} h={h:.2f} confidence={c:.6f}")
    return 0


def cmd_trace(a):
    out = Path(a.out)
    if not out.parent.is_dir():
        raise MTCNNInputError(f"{out}: cannot write (folder {out.parent} does not exist)")
    if out.is_dir():
        raise MTCNNInputError(f"{out}: cannot write (it is a folder)")
    trace = run_detect(a.image, a)
    for path in trace.save(a.out, heatmaps=a.heatmaps):
        print(f"wrote {path}")
    return 0


def cmd_compare(a):
    from .. import compare
    from ..trace import load_any

    ref = load_any(a.reference)  # + its heatmaps sidecar
    if a.candidate is None:
        return _compare_builds(ref, a)
    cand = load_any(a.candidate)
    rep = compare(ref, cand, tol_px=a.tol_px, tol_score=a.tol_score)
    print(json.dumps(rep.to_dict(), indent=1) if a.json else rep.format())
    return 0 if rep.ok else 1


def _compare_builds(ref, a):
    """No candidate: run this port as both C++ builds on --image and say which one `ref` is."""
    from .. import decode_image, load_models
    from ..identify import identify_build
    from ..safe_io import MAX_IMAGE_BYTES, read_regular_file

    if not a.image:
        raise ValueError("compare needs a CANDIDATE file, or --image to run both C++ builds on")
    try:
        data = read_regular_file(a.image, MAX_IMAGE_BYTES)
    except OSError as e:
        raise MTCNNInputError(f"{a.image}: cannot read ({e.strerror or e})") from None
    image = decode_image(data, name=Path(a.image).name).image
    match = identify_build(
        ref, image, models=load_models(a.models), threads=threads_arg(a.threads), tol_px=a.tol_px, tol_score=a.tol_score
    )
    rep = match.reports[match.nearest]
    if a.json:
        print(json.dumps(match.to_dict() | {"report": rep.to_dict()}, indent=1))
    else:
        print(f"C++ build: {match.describe()}\ncompared with this port as {match.nearest}:\n{rep.format()}")
    return 0 if rep.ok else 1


def build_parser(prog="python -m mtcnn_core"):
    from ..cascade import __version__
    from .commands import add_app_parser, add_models_parser

    ap = argparse.ArgumentParser(prog=prog, description="OpenFace 2.2 MTCNN, bit-exact in numpy")
    ap.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    add_app_parser(sub)
    d = sub.add_parser("detect", help="print the detections of an image")
    d.add_argument("image", help="image file (jpg/png/bmp/webp/tiff...)")
    d.add_argument("--json", action="store_true", help="print JSON instead of text (default: text)")
    add_params(d)
    t = sub.add_parser("trace", help="write the full stage trace of an image")
    t.add_argument("image", help="image file")
    t.add_argument("--out", required=True, help="TRACE.json to write (required)")
    t.add_argument("--heatmaps", action="store_true", help="also write <stem>.heatmaps.npz (default: off)")
    add_params(t)
    c = sub.add_parser(
        "compare",
        help="compare two traces stage by stage (exit 0 if within tolerance); "
        "with --image instead of a candidate: which C++ build made REFERENCE",
    )
    c.add_argument("reference", help="reference trace JSON, detections JSON or x,y,w,h,confidence CSV")
    c.add_argument(
        "candidate",
        nargs="?",
        default=None,
        help="candidate trace, same formats (default: none; then --image is needed)",
    )
    c.add_argument(
        "--image",
        default=None,
        help="the image REFERENCE was made from: run this port as both OpenFace builds "
        "(avx512, avx2) with its parameters and say which one it matches bit for bit "
        "(default: none)",
    )
    c.add_argument("--models", default=None, help="folder of PNet/RNet/ONet.dat for --image (default: bundled)")
    c.add_argument("--threads", type=int, default=None, help="kernel threads for --image (default: all cores)")
    c.add_argument("--json", action="store_true", help="print the report as JSON (default: text)")
    add_tolerances(c)
    try:
        from .batch.command import add_batch_parser

        add_batch_parser(sub)
    except ImportError:
        pass
    add_models_parser(sub)
    return ap


def console_main() -> int:
    """Entry point of the `mtcnn-lens` command."""
    return exiting(main(prog="mtcnn-lens"))


def exiting(code: int) -> int:
    """`code`, with the collector frozen: the command is done and its files are closed, and the
    interpreter's exit passes over everything loaded (numba's objects) took ~0.2 s of a 0.6 s
    `detect`. Entry points only: it changes the process's collector."""
    import gc

    gc.freeze()
    return code


def main(argv=None, prog="python -m mtcnn_core") -> int:
    ap = build_parser(prog)
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    handlers = {"detect": cmd_detect, "trace": cmd_trace, "compare": cmd_compare}
    try:
        handler = handlers.get(a.command) or a.handler
        return handler(a)
    except (MTCNNInputError, ValueError) as e:  # csv.Error is not one: listed below
        return _fail(str(e))
    except MemoryError:
        return _fail("out of memory (image too large for this machine?)")
    except RecursionError:
        return _fail("input nested too deeply")
    except OSError as e:  # includes TimeoutError / ConnectionError (e.g. --scheduler)
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        return _fail(f"{where}{e.strerror or type(e).__name__ + ': ' + str(e)}")
    except Exception as e:  # cv2.error, csv.Error, OverflowError and the like: still one line
        if type(e).__name__ in ("error", "Error") or isinstance(e, (OverflowError, ArithmeticError)):
            return _fail(f"{type(e).__module__}.{type(e).__name__}: {_last_line(e)}")
        raise


def _fail(msg: str) -> int:
    """The CLI contract for bad input: one line on stderr, exit status 2."""
    line = " ".join(msg.split())[:500]
    print(f"error: {line}", file=sys.stderr)
    return 2


def _last_line(e) -> str:
    lines = [x.strip() for x in str(e).splitlines() if x.strip()]
    return lines[-1] if lines else ""
