"""Pure description of each cascade stage's boxes (what entered, what survived and why)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import core

STAGES = ("PNet merged", "RNet input", "RNet kept", "ONet input", "ONet kept", "final")
EXPLAIN = {
    "PNet merged": "All scales' proposals pooled, then NMS 0.7 (IoU) across scales. Faded boxes were "
    "suppressed by an overlapping, higher-scoring box.",
    "RNet input": "Merged boxes moved by PNet's regression, then squared (rectify): RNet sees each as a 24×24 crop.",
    "RNet kept": "RNet's face probability ≥ t2, then NMS 0.7 (IoU).",
    "ONet input": "RNet-kept boxes moved by RNet's regression and squared: ONet sees 48×48 crops.",
    "ONet kept": "ONet's probability ≥ t3, regression applied (+1 size), then NMS 0.7 on the "
    "intersection-over-minimum.",
    "final": "ONet's boxes after OpenFace's fixed landmark-tightening adjustment: the detector's output.",
}


@dataclass
class StageBoxes:
    """The boxes one stage shows: all candidates with score and fate, and what they feed next."""

    name: str
    boxes: np.ndarray  # (n, 4) candidates drawn
    scores: np.ndarray  # (n,)
    fate: np.ndarray  # (n,) KEPT / BELOW_THRESHOLD / SUPPRESSED
    suppressed_by: np.ndarray  # (n,) index into the same list, -1 if none
    corrections: np.ndarray | None  # (n, 4) regression shown as arrows
    crop_size: int | None  # 24 / 48 when each box is a net input crop
    score_label: str
    fates_known: bool = True
    add1: bool = False  # the stage's correction adds 1 to the rounded size (ONet only)

    def __len__(self):
        return len(self.boxes)


def _all_kept(n):
    return np.zeros(n, np.int8), np.full(n, -1, np.int32)


def _fates(filtered, n):
    if filtered is None:
        return (*_all_kept(n), False)
    return np.asarray(filtered.fate), np.asarray(filtered.suppressed_by), True


def stage_boxes(trace, name: str) -> StageBoxes:
    """Boxes, scores and fates of one named stage (see STAGES)."""
    if name == "PNet merged":
        return _pnet_merged(trace)
    if name in ("RNet input", "ONet input"):
        st = trace.rnet if name.startswith("RNet") else trace.onet
        fate, by = _all_kept(len(st.input))
        return StageBoxes(
            name,
            st.input.boxes,
            st.input.scores,
            fate,
            by,
            None,
            24 if name.startswith("RNet") else 48,
            "previous stage's score",
        )
    if name in ("RNet kept", "ONet kept"):
        st = trace.rnet if name.startswith("RNet") else trace.onet
        fate, by, known = _fates(st.filtered, len(st.input))
        if not known:  # C++ trace: threshold known from scores, NMS victims cannot be told apart
            t = float((trace.params or {}).get("t2" if name.startswith("RNet") else "t3", 0.7))
            fate = np.where(st.scores >= np.float32(t), core.KEPT, core.BELOW_THRESHOLD).astype(np.int8)
        return StageBoxes(
            name,
            st.input.boxes,
            st.scores,
            fate,
            by,
            st.corrections,
            24 if name.startswith("RNet") else 48,
            f"{name.split()[0]} probability",
            known,
            add1=name.startswith("ONet"),
        )
    d = trace.detections
    fate, by = _all_kept(len(d))
    return StageBoxes(name, d.boxes, d.scores, fate, by, None, None, "ONet confidence")


def _pnet_merged(trace) -> StageBoxes:
    """Every scale's kept boxes concatenated (NMS 0.7 input), with merged_nms fates if recorded."""
    parts = [s.kept for s in trace.scales or []]
    if trace.merged_nms is not None and parts:
        boxes = np.concatenate([p.boxes for p in parts])
        scores = np.concatenate([p.scores for p in parts])
        corr = np.concatenate([p.corrections for p in parts])
        f = trace.merged_nms
        return StageBoxes(
            "PNet merged",
            boxes,
            scores,
            np.asarray(f.fate),
            np.asarray(f.suppressed_by),
            corr,
            None,
            "PNet probability",
        )
    m = trace.merged
    fate, by = _all_kept(len(m))
    return StageBoxes("PNet merged", m.boxes, m.scores, fate, by, m.corrections, None, "PNet probability", False)


def fate_text(sb: StageBoxes, i: int) -> str:
    """Why box i was kept or dropped, naming the suppressing box."""
    f = int(sb.fate[i])
    if f == core.SUPPRESSED and sb.suppressed_by[i] >= 0:
        return f"suppressed by NMS (by #{int(sb.suppressed_by[i])})"
    if f == core.BELOW_THRESHOLD:
        return "below threshold"
    return core.FATE_NAMES.get(f, "kept") if f != core.KEPT or sb.fates_known else "kept"


#: Cascade table column widths (px): wide enough for 4-digit coordinates with 4 decimals,
#: 7-decimal scores and the longest fate text.
TABLE_WIDTHS = {"#": 50, "x": 95, "y": 95, "w": 90, "h": 90, "score": 100, "fate": 230}
#: Fate and score first: on a narrow page the coordinates scroll, the verdict stays in view.
TABLE_ORDER = ("#", "fate", "score", "x", "y", "w", "h")


def full_score(s) -> str:
    """A float32 score in the fewest digits that identify it (0.9999998, never rounded to 1)."""
    return np.format_float_positional(np.float32(s), trim="-")


def empty_stage_note(name: str) -> str:
    """Why a stage can be empty, in plain words."""
    return (
        f"No boxes at {name}: every box was rejected earlier (below a threshold or suppressed "
        "by NMS). Lower t1/t2/t3 or min face size in the sidebar to see more candidates."
    )


def stage_rows(sb: StageBoxes) -> list[dict]:
    """Table rows for a stage: index, geometry, score and fate."""
    return [
        {
            "#": i,
            "x": float(b[0]),
            "y": float(b[1]),
            "w": float(b[2]),
            "h": float(b[3]),
            "score": float(s),
            "fate": fate_text(sb, i),
        }
        for i, (b, s) in enumerate(zip(sb.boxes, sb.scores))
    ]


def corrected_box(box, corr, add1: bool = False) -> np.ndarray:
    """The box after the stage's regression, by the core's own apply_correction (semantics 4.6)."""
    from mtcnn_core.boxes import apply_correction

    return apply_correction(
        np.asarray(box, np.float32).reshape(1, 4), np.asarray(corr, np.float32).reshape(1, 4), add1
    )[0]


def regression_arrows(box, corr, add1: bool = False) -> list[tuple[float, float, float, float]]:
    """(x0, y0, x1, y1) arrows from each edge's middle to where the regression moves that edge."""
    x, y, w, h = (float(v) for v in box)
    nx, ny, nw, nh = (float(v) for v in corrected_box(box, corr, add1))
    cx, cy = x + w / 2, y + h / 2
    return [(x, cy, nx, cy), (cx, y, cx, ny), (x + w, cy, nx + nw, cy), (cx, y + h, cx, ny + nh)]


def funnel_counts(trace) -> list[tuple[str, int]]:
    """(stage, boxes leaving it) for the funnel chart, in STAGES order."""
    return [
        ("PNet merged", len(trace.merged)),
        ("RNet input", len(trace.rnet.input)),
        ("RNet kept", len(trace.rnet.kept)),
        ("ONet input", len(trace.onet.input)),
        ("ONet kept", len(trace.onet.kept)),
        ("final", len(trace.detections)),
    ]
