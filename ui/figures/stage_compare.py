"""Stage-by-stage C++ vs Python (pure: traces and a CompareReport in, data and figures out).

For a chosen stage, both traces' boxes are sorted into four categories — matched (paired and
within the box tolerance), moved (paired, further apart), only C++, only Python — drawn in
distinct styles with arrows for the moved ones, and tabulated with deltas in scientific notation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from . import plots

CPP_COLOUR, PY_COLOUR = "#ff8c00", "#00e5ff"
MATCHED_COLOUR, MOVED_COLOUR = "#39d353", "#ffd60a"
#: Compare-report stage -> (trace attribute path, Cascade page stage showing those boxes).
CASCADE_STAGE = {
    "pnet.merged": "PNet merged",
    "rnet.input": "RNet input",
    "rnet.scores": "RNet kept",
    "rnet.kept": "RNet kept",
    "onet.input": "ONet input",
    "onet.scores": "ONet kept",
    "onet.kept": "ONet kept",
    "detections": "final",
}


def sci(v) -> str:
    """A delta in scientific notation ('0' when exactly zero, '' when unknown)."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return "0" if float(v) == 0 else f"{float(v):.3e}"


def stage_names(report) -> list[str]:
    """Stages of the report that have boxes to draw (value-only stages map to their inputs)."""
    return [s.name for s in report.stages if s.name != "pyramid"]


def default_stage(report) -> str:
    """The first divergent stage, else the first not bit-identical one, else the final boxes."""
    return report.first_divergent or report.first_not_identical or "detections"


def stage_boxes(trace, name: str):
    """The BoxSet a report stage compares, from one trace (None if the trace lacks it)."""
    if name == "detections":
        return trace.detections
    if not trace.has_stages:
        return None
    if name.startswith("pnet.scale"):
        i = int(name[len("pnet.scale") :])
        return next((s.kept for s in trace.scales if s.index == i), None)
    if name == "pnet.merged":
        return trace.merged
    net, part = name.split(".")
    stage = getattr(trace, net)
    if part == "scores":  # the net's score for every input box
        return type(stage.input)(stage.input.boxes, stage.scores)
    return getattr(stage, part)


@dataclass
class Categories:
    """Indices into the C++ (ref) and Python (cand) box lists, per category."""

    matched: list  # [(ref i, cand j)] paired, every edge within tol_px
    moved: list  # [(ref i, cand j)] paired, further apart
    only_ref: list
    only_cand: list

    def counts(self) -> dict:
        return {
            "matched": len(self.matched),
            "moved": len(self.moved),
            "only C++": len(self.only_ref),
            "only Python": len(self.only_cand),
        }


def categorise(stage_report, tol_px: float) -> Categories:
    """Sort a compare StageReport's pairs into matched / moved by the largest edge delta."""
    matched, moved = [], []
    for p in stage_report.pairs:
        far = max(abs(p.dx), abs(p.dy), abs(p.dw), abs(p.dh)) > tol_px
        (moved if far else matched).append((p.ref, p.cand))
    return Categories(matched, moved, list(stage_report.unmatched_ref), list(stage_report.unmatched_cand))


def delta_rows(stage_report, ref_boxes, cand_boxes, tol_px: float) -> list[dict]:
    """One row per box of the stage: category, both positions, deltas in scientific notation."""
    rows = []
    for p in stage_report.pairs:
        far = max(abs(p.dx), abs(p.dy), abs(p.dw), abs(p.dh)) > tol_px
        b = ref_boxes.boxes[p.ref]
        rows.append(
            {
                "category": "moved" if far else "matched",
                "C++ #": p.ref,
                "Python #": p.cand,
                "x": f"{b[0]:.4f}",
                "y": f"{b[1]:.4f}",
                "w": f"{b[2]:.4f}",
                "h": f"{b[3]:.4f}",
                "Δx": sci(p.dx),
                "Δy": sci(p.dy),
                "Δw": sci(p.dw),
                "Δh": sci(p.dh),
                "Δscore": sci(p.dscore),
                "IoU": f"{p.iou:.6f}",
            }
        )
    for name, idx, src in (
        ("only C++", stage_report.unmatched_ref, ref_boxes),
        ("only Python", stage_report.unmatched_cand, cand_boxes),
    ):
        for i in idx:
            b = src.boxes[i]
            rows.append(
                {
                    "category": name,
                    "C++ #": i if src is ref_boxes else None,
                    "Python #": i if src is cand_boxes else None,
                    "x": f"{b[0]:.4f}",
                    "y": f"{b[1]:.4f}",
                    "w": f"{b[2]:.4f}",
                    "h": f"{b[3]:.4f}",
                    "score": f"{float(src.scores[i]):.7g}",
                }
            )
    return rows


def stage_rows(report) -> list[dict]:
    """The full stage table: counts and worst deltas per stage, deltas in scientific notation."""
    out = []
    for s in report.stages:
        verdict = "identical" if s.bit_identical else "within tolerance" if s.within_tolerance else "DIVERGES"
        out.append(
            {
                "stage": s.name,
                "C++": s.ref_count,
                "Python": s.cand_count,
                "result": verdict,
                "max |Δxy| px": sci(s.max_dxy),
                "max |Δwh| px": sci(s.max_dwh),
                "max |Δscore|": sci(s.max_dscore),
                "min IoU": f"{s.min_iou:.6f}",
                "detail": s.detail,
            }
        )
    return out


def stage_figure(base: go.Figure, ref_boxes, cand_boxes, cats: Categories, ref_label: str = "C++") -> go.Figure:
    """Both box sets of one stage on the image figure `base` (modified and returned): matched
    green, moved yellow with an arrow C++ -> Python per box, only-C++ orange (solid, thick),
    only-Python cyan (dashed). Hover gives index and full-precision score."""

    def pick(bs, idx):
        idx = np.asarray(idx, np.intp)
        return bs.boxes[idx].reshape(-1, 4), bs.scores[idx]

    layers = [
        (
            f"matched ({len(cats.matched)})",
            pick(cand_boxes, [j for _, j in cats.matched]),
            MATCHED_COLOUR,
            2,
            None,
            [j for _, j in cats.matched],
            "Python",
        ),
        (
            f"moved ({len(cats.moved)}): Python",
            pick(cand_boxes, [j for _, j in cats.moved]),
            MOVED_COLOUR,
            2,
            "dash",
            [j for _, j in cats.moved],
            "Python",
        ),
        (
            f"moved ({len(cats.moved)}): {ref_label}",
            pick(ref_boxes, [i for i, _ in cats.moved]),
            MOVED_COLOUR,
            2,
            None,
            [i for i, _ in cats.moved],
            ref_label,
        ),
        (
            f"only {ref_label} ({len(cats.only_ref)})",
            pick(ref_boxes, cats.only_ref),
            CPP_COLOUR,
            3,
            None,
            cats.only_ref,
            ref_label,
        ),
        (
            f"only Python ({len(cats.only_cand)})",
            pick(cand_boxes, cats.only_cand),
            PY_COLOUR,
            3,
            "dot",
            cats.only_cand,
            "Python",
        ),
    ]
    for label, (boxes, scores), colour, width, dash, idx, who in layers:
        if not len(boxes):
            continue
        plots.add_boxes(base, boxes, label, colour, width=width, dash=dash)
        texts = [
            f"{who} #{k}: score {float(s):.9g}<br>x={b[0]:.4f} y={b[1]:.4f} w={b[2]:.4f} h={b[3]:.4f}"
            for k, s, b in zip(idx, scores, boxes)
        ]
        plots.add_edge_hover(base, boxes, texts, label, colour)

    def centre(b):
        return float(b[0] + b[2] / 2), float(b[1] + b[3] / 2)

    arrows = [centre(ref_boxes.boxes[i]) + centre(cand_boxes.boxes[j]) for i, j in cats.moved]
    plots.add_arrows(base, arrows, MOVED_COLOUR)
    return base


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Signed float32 ulps from a to b per element (int64; 0 where the bits are equal)."""

    def ordered(x):
        i = np.asarray(x, np.float32).view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)

    return ordered(b) - ordered(a)


def heatmap_difference(cpp: np.ndarray, py: np.ndarray) -> dict:
    """Python − C++ of one PNet map: the float64 difference, ulps, and their worst values."""
    diff = np.asarray(py, np.float64) - np.asarray(cpp, np.float64)
    ulps = ulp_distance(cpp, py)
    return {
        "diff": diff,
        "ulps": ulps,
        "max_abs": float(np.abs(diff).max()) if diff.size else 0.0,
        "max_ulps": int(np.abs(ulps).max()) if ulps.size else 0,
        "cells_differing": int(np.count_nonzero(ulps)),
        "cells": int(ulps.size),
    }
