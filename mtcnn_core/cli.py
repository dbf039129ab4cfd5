"""Command line: `python -m mtcnn_core detect|trace|compare ...` (bad input: one line, exit 2)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import MTCNNInputError


def _add_params(p):
    p.add_argument("--min-face-size", type=int, default=60, help="smallest face in px (default 60)")
    p.add_argument("--t1", type=float, default=0.6, help="PNet threshold in [0, 1] (default 0.6)")
    p.add_argument("--t2", type=float, default=0.7, help="RNet threshold in [0, 1] (default 0.7)")
    p.add_argument("--t3", type=float, default=0.7, help="ONet threshold in [0, 1] (default 0.7)")
    p.add_argument("--pyramid-factor", type=float, default=0.709, help="in (0, 1) (default 0.709)")
    p.add_argument("--models", default=None, help="folder of PNet/RNet/ONet.dat (default: bundled)")
    p.add_argument("--engine", default="auto", choices=("auto", "exact", "blas"),
                   help="exact kernels, host BLAS, or auto (BLAS where checked equal; default)")
    p.add_argument("--allow-expensive", action="store_true",
                   help="run even when the pyramid exceeds the cost budget (default: refuse, exit 2)")
    p.add_argument("--custom-architecture", action="store_true",
                   help="accept model files that are not OpenFace's MTCNN layer shapes (size-bounded)")


def _params(a) -> dict:
    return dict(min_face_size=a.min_face_size, t1=a.t1, t2=a.t2, t3=a.t3,
                pyramid_factor=a.pyramid_factor)


def run_detect(image_path, a):
    """Load the image and models, validate parameters, and return the Trace."""
    from . import detect_bytes, load_models
    from .cascade import validate_params

    from .safe_io import MAX_IMAGE_BYTES, read_regular_file

    validate_params(**_params(a))
    try:
        data = read_regular_file(image_path, MAX_IMAGE_BYTES)
    except OSError as e:
        raise MTCNNInputError(f"{image_path}: cannot read ({e.strerror or e})") from None
    models = load_models(a.models, custom_architecture=a.custom_architecture)
    from .cost import DEFAULT_BUDGET_PIXELS
    budget = None if a.allow_expensive else DEFAULT_BUDGET_PIXELS
    return detect_bytes(data, Path(image_path).name, models=models, engine=a.engine, budget=budget,
                        **_params(a))


def cmd_detect(a):
    trace = run_detect(a.image, a)
    for w in trace.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if a.json:
        from .trace import _rows
        print(json.dumps({"image": trace.image, "params": trace.params,
                          "detections": _rows(trace.detections), "warnings": trace.warnings}))
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
    from . import compare
    from .trace import load_any
    ref, cand = load_any(a.reference), load_any(a.candidate)   # + their heatmaps sidecars
    rep = compare(ref, cand, tol_px=a.tol_px, tol_score=a.tol_score)
    print(json.dumps(rep.to_dict(), indent=1) if a.json else rep.format())
    return 0 if rep.ok else 1


def build_parser():
    ap = argparse.ArgumentParser(prog="python -m mtcnn_core",
                                 description="OpenFace 2.2 MTCNN, bit-exact in numpy")
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("detect", help="print the detections of an image")
    d.add_argument("image")
    d.add_argument("--json", action="store_true")
    _add_params(d)
    t = sub.add_parser("trace", help="write the full stage trace of an image")
    t.add_argument("image")
    t.add_argument("--out", required=True, help="TRACE.json")
    t.add_argument("--heatmaps", action="store_true", help="also write <stem>.heatmaps.npz")
    _add_params(t)
    c = sub.add_parser("compare", help="compare two traces stage by stage (exit 0 if within tolerance)")
    c.add_argument("reference")
    c.add_argument("candidate")
    c.add_argument("--json", action="store_true")
    c.add_argument("--tol-px", type=float, default=0.01)
    c.add_argument("--tol-score", type=float, default=1e-4)
    _add_params(c)
    try:
        from .batch import add_batch_parser
        add_batch_parser(sub, _add_params)
    except ImportError:
        pass
    return ap




def main(argv=None) -> int:
    ap = build_parser()
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    handlers = {"detect": cmd_detect, "trace": cmd_trace, "compare": cmd_compare}
    try:
        handler = handlers.get(a.command) or a.handler
        return handler(a)
    except (MTCNNInputError, ValueError) as e:      # csv.Error is not one: listed below
        return _fail(str(e))
    except MemoryError:
        return _fail("out of memory (image too large for this machine?)")
    except RecursionError:
        return _fail("input nested too deeply")
    except OSError as e:        # includes TimeoutError / ConnectionError (e.g. --scheduler)
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        return _fail(f"{where}{e.strerror or type(e).__name__ + ': ' + str(e)}")
    except Exception as e:      # cv2.error, csv.Error, OverflowError and the like: still one line
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
