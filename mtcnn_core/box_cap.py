"""An optional cap on the boxes entering each NMS (the app's guard against t1=t2=t3=0 runs).

With the thresholds at 0 every PNet cell is a candidate (146k on a 640x480 image at min face 12):
the per-scale and cross-scale NMS are O(n^2) and RNet/ONet then run on tens of thousands of boxes
(41 s on a 2-core machine). The cap keeps, at each NMS, only the `cap` boxes the greedy NMS visits
first, in the C++'s own visiting order (score descending, equal scores by index descending, see
`boxes.nms`). Greedy NMS decides each box only from the boxes visited before it, so the capped
NMS keeps exactly the first boxes of the exact result: a prefix of what the C++ keeps. Every later
stage then sees fewer boxes than the C++ would, so its results differ; the trace records where
(`cap_cuts`). cap=None (the CLI and batch default) changes nothing.
Since every NMS input is capped, RNet and ONet (fed by the cross-scale NMS) get at most `cap` boxes.
"""

from __future__ import annotations

import numpy as np

from . import boxes as B


def visit_order(scores: np.ndarray) -> np.ndarray:
    """Indices in the order `boxes.nms` visits them: score descending, ties by index descending."""
    return np.lexsort((np.arange(len(scores)), scores))[::-1]


def top_boxes(scores: np.ndarray, cap: int | None) -> np.ndarray | None:
    """Ascending indices of the `cap` boxes visited first, or None when nothing is cut."""
    if cap is None or len(scores) <= cap:
        return None
    return np.sort(visit_order(scores)[:cap])


def capped_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "iou", cap: int | None = None):
    """`boxes.nms` over the `cap` first-visited boxes: (kept indices in output order,
    suppressed_by (n,) int32, cut (n,) bool: the boxes the cap left out, never looked at)."""
    n = len(boxes)
    top = top_boxes(scores, cap)
    if top is None:
        order, sup = B.nms(boxes, scores, threshold, mode)
        return order, sup, np.zeros(n, bool)
    order, sub_sup = B.nms(boxes[top], scores[top], threshold, mode)
    sup = np.full(n, -1, np.int32)
    hit = sub_sup >= 0
    sup[top[hit]] = top[sub_sup[hit]]
    cut = np.ones(n, bool)
    cut[top] = False
    return top[order], sup, cut


def cap_cuts(scales, merged_nms, cap: int | None) -> list[dict]:
    """Where a run's cap cut boxes, from the stages' fates (CAPPED):
    [{'stage': 'pnet_scale' | 'pnet_merged', 'index': level or None, 'boxes': what the C++ would
    have processed, 'processed': what this run did}], in cascade order."""
    from .trace import CAPPED

    if cap is None:
        return []
    cuts = []
    for s in scales:
        if s.nms is not None and (s.nms.fate == CAPPED).any():
            n = len(s.nms.fate)
            cuts.append(
                {
                    "stage": "pnet_scale",
                    "index": int(s.index),
                    "boxes": n,
                    "processed": n - int((s.nms.fate == CAPPED).sum()),
                }
            )
    if merged_nms is not None and (merged_nms.fate == CAPPED).any():
        n = len(merged_nms.fate)
        cuts.append(
            {"stage": "pnet_merged", "index": None, "boxes": n, "processed": n - int((merged_nms.fate == CAPPED).sum())}
        )
    return cuts
