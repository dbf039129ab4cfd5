"""Pure summaries of a Trace: box counts per stage, timing table, detection rows."""

from __future__ import annotations

import numpy as np


def stage_counts(trace) -> list[tuple[str, int]]:
    """(stage label, number of boxes) from PNet's raw proposals to the final faces."""
    if not trace.has_stages:
        return [("final", len(trace.detections))]
    return [
        ("PNet ≥ t1", int(sum(s.num_above_t1 for s in trace.scales))),
        ("per-scale NMS", int(sum(len(s.kept) for s in trace.scales))),
        ("merged NMS", len(trace.merged)),
        ("RNet kept", len(trace.rnet.kept)),
        ("ONet kept", len(trace.onet.kept)),
        ("final", len(trace.detections)),
    ]


def timing_rows(trace) -> list[dict]:
    """[{stage, ms}] from trace.timing_ms, total last."""
    t = dict(trace.timing_ms or {})
    total = t.pop("total", None)
    rows = [{"stage": k, "ms": round(float(v), 2)} for k, v in t.items()]
    if total is not None:
        rows.append({"stage": "total", "ms": round(float(total), 2)})
    return rows


def detection_rows(trace) -> list[dict]:
    """One dict per final face: index, x, y, w, h, confidence."""
    d = trace.detections
    return [
        {"face": i, "x": float(b[0]), "y": float(b[1]), "w": float(b[2]), "h": float(b[3]), "confidence": float(s)}
        for i, (b, s) in enumerate(zip(d.boxes, d.scores))
    ]


def engine_used(trace, requested: str) -> str:
    """The engine that actually ran, from the trace's producer ('exact · compiled kernels ·
    avx512 build'); else what the params say; else the requested one."""
    ran = producer_fields(trace)
    if ran.get("engine"):
        parts = [ran["engine"]]
        if ran.get("kernels"):
            parts.append(f"{ran['kernels']} kernels")
        if ran.get("cpp_build"):
            parts.append(f"{ran['cpp_build']} build")
        return " · ".join(parts)
    src = (trace.params or {}).get("engine")
    return str(src) if src else requested


def producer_fields(trace) -> dict:
    """engine / kernels / cpp_build parsed from a producer like
    'mtcnn_core 0.1.0 (engine=exact, kernels=compiled, cpp_build=avx512)'; {} if absent."""
    import re

    return dict(re.findall(r"(engine|kernels|cpp_build)=([\w.-]+)", str(trace.producer or "")))


#: What each kernel implementation means, and the one-line fix when a faster exact path exists.
KERNEL_EXPLAIN = {
    "compiled": ("compiled exact kernels (numba): the C++'s FMA order, bit for bit, at BLAS speed", None),
    "reference": (
        "numpy reference kernels: the same bits as the C++, 10-20x slower",
        "pip install -r requirements.txt (installs numba), then choose engine 'exact'",
    ),
    "blas": (
        "this machine's BLAS: fast, but the last bits depend on its kernel, not the C++'s",
        "choose engine 'exact' for OpenFace's bits (compiled kernels, about as fast)",
    ),
}


def engine_honesty(trace, compiled_available: bool) -> tuple[str, str | None]:
    """(what ran for PNet, RNet and ONet and why, the one-line fix or None)."""
    ran = producer_fields(trace)
    kernels = ran.get("kernels")
    if kernels not in KERNEL_EXPLAIN:
        return "This trace does not say which kernels computed it.", None
    text, fix = KERNEL_EXPLAIN[kernels]
    why = ""
    if kernels == "reference" and ran.get("engine") == "exact":
        why = " (engine 'exact' fell back to them: the compiled kernels could not be loaded)"
    elif kernels == "reference":
        why = " (engine 'reference' chosen)"
    if kernels == "reference" and ran.get("engine") != "exact" and compiled_available:
        fix = "choose engine 'exact': the compiled kernels give the same bits 10-20x faster"
    return f"PNet, RNet and ONet all ran on the {text}{why}.", fix


def min_face_for_scale(scale: float) -> float:
    """Face size (px in the original image) that fills PNet's 12x12 window at this scale."""
    return 12.0 / float(scale) if scale > 0 else float("inf")


def box_iou(a, b) -> np.ndarray:
    """(n, m) IoU of [x, y, w, h] boxes (plain float geometry, for matching only)."""
    a = np.asarray(a, float).reshape(-1, 4)
    b = np.asarray(b, float).reshape(-1, 4)
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)
