"""Box arithmetic of FaceDetectorMTCNN: generation, NMS, correction, rectify, crops, final fix.

Boxes are (n, 4) float32 [x, y, w, h]. Every rounding follows the C++ (semantics 4 and 6.2):
rne where a Rect_<float> becomes a cv::Rect, truncation toward zero where the C++ casts to int.
"""

from __future__ import annotations

import numpy as np

from .images import planar_input

try:
    from .kernels.compiled import crop_bilinear as _compiled_crop
    from .kernels.compiled import nms_greedy as _compiled_nms
except Exception:  # numba unavailable: the numpy path below
    _compiled_crop = _compiled_nms = None

F32, F64 = np.float32, np.float64
STRIDE, CELL = 2, 12


def cell_edges(index: np.ndarray, scale: float):
    """Original-image start and end pixel of heatmap cells along one axis (semantics 4.2):
    trunc(f32(2i+1) / f32(scale)) and trunc(f32(2i+12) / f32(scale)), as float32 arrays."""
    sc = F32(scale)
    index = np.asarray(index)
    return (np.trunc((index * STRIDE + 1).astype(F32) / sc), np.trunc((index * STRIDE + CELL).astype(F32) / sc))


def generate_boxes(prob: np.ndarray, scale: float, t1: float):
    """Cells with prob >= t1 as boxes (`generate_bounding_boxes`), x (column) outer, y inner.

    Returns (boxes (n, 4) float32, cells (n, 2) int32 [row, col]).
    """
    cols, rows = np.nonzero(prob.T >= F32(t1))  # nonzero on the transpose: x outer, y inner
    x1, x2 = cell_edges(cols, scale)
    y1, y2 = cell_edges(rows, scale)
    boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1).astype(F32)
    return boxes, np.stack([rows, cols], axis=1).astype(np.int32)


def to_int_rects(boxes: np.ndarray) -> np.ndarray:
    """Rect_<float> -> cv::Rect: rne (saturate_cast<int>) on x, y, w, h. (n, 4) int64."""
    return np.rint(boxes.astype(F64)).astype(np.int64)


def overlaps(rects_a: np.ndarray, rects_b: np.ndarray, mode: str) -> np.ndarray:
    """float32 overlap of int rects (m, 4) with int rects (k, 4) -> (m, k): IoU, or intersection
    over the smaller area ("min")."""
    a, b = rects_a[:, None, :], rects_b[None, :, :]
    ax, ay, aw, ah = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bx, by, bw, bh = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    iw = np.minimum(ax + aw, bx + bw) - np.maximum(ax, bx)
    ih = np.minimum(ay + ah, by + bh) - np.maximum(ay, by)
    empty = (aw <= 0) | (ah <= 0) | (bw <= 0) | (bh <= 0) | (iw <= 0) | (ih <= 0)
    inter = np.where(empty, 0, iw * ih).astype(F32)
    a1, a2 = aw * ah, bw * bh
    with np.errstate(divide="ignore", invalid="ignore"):
        if mode == "min":
            return inter / np.minimum(a1, a2).astype(F32)
        return inter / ((a1 + a2).astype(F32) - inter)


#: Sorted candidates whose overlaps are computed together (one (block, alive) matrix at a time).
NMS_BLOCK = 256


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "iou", compiled: bool = True):
    """`non_maximum_supression`: returns (kept indices in output order, suppressed_by (n,) int32).

    The C++ walks a std::multimap from its end: highest score first, and among equal scores the
    highest index first. A box leaves when its overlap with the picked box is > f32(threshold).
    By the compiled loop when it is available (and compiled), else by the blocked numpy loop below.
    """
    n = len(boxes)
    suppressed_by = np.full(n, -1, np.int32)
    if n == 0:
        return np.zeros(0, np.int64), suppressed_by
    order = np.lexsort((np.arange(n), scores))[::-1]  # score desc, then index desc
    rects = to_int_rects(boxes)[order]  # from here on, positions in that order
    by = np.full(n, -1, np.int64)
    thr = F32(threshold)
    if compiled and _compiled_nms is not None:
        kept = _compiled_nms(np.ascontiguousarray(rects), thr, mode == "min", by)
        hit = by >= 0
        suppressed_by[order[hit]] = order[by[hit]]
        return order[kept], suppressed_by
    alive = np.ones(n, bool)
    kept = []
    for b0 in range(0, n, NMS_BLOCK):
        rows = b0 + np.flatnonzero(alive[b0 : b0 + NMS_BLOCK])
        if rows.size == 0:
            continue
        cols = b0 + np.flatnonzero(alive[b0:])
        hits = overlaps(rects[rows], rects[cols], mode) > thr
        for j, i in enumerate(rows.tolist()):
            if not alive[i]:
                continue
            kept.append(i)
            alive[i] = False
            gone = cols[hits[j] & alive[cols]]
            if gone.size:
                alive[gone] = False
                by[gone] = i
    hit = by >= 0
    suppressed_by[order[hit]] = order[by[hit]]
    return order[np.array(kept, np.int64)], suppressed_by


def apply_correction(boxes: np.ndarray, corr: np.ndarray, add1: bool) -> np.ndarray:
    """Move each edge by its regression times the rne-rounded size (+1 for ONet) (semantics 4.6)."""
    r = to_int_rects(boxes)
    x, y, w, h = r[:, 0], r[:, 1], r[:, 2] + add1, r[:, 3] + add1
    nx1 = x.astype(F32) + corr[:, 0] * w.astype(F32)
    ny1 = y.astype(F32) + corr[:, 1] * h.astype(F32)
    nx2 = (x + w).astype(F32) + w.astype(F32) * corr[:, 2]
    ny2 = (y + h).astype(F32) + h.astype(F32) * corr[:, 3]
    return np.stack([nx1, ny1, nx2 - nx1, ny2 - ny1], axis=1).astype(F32)


def rectify(boxes: np.ndarray) -> np.ndarray:
    """Square each box on its longer side about its centre, truncating to ints (semantics 4.7)."""
    x, y, w, h = (boxes[:, i] for i in range(4))
    m = np.maximum(w, h)
    nx = (x.astype(F64) + 0.5 * (w - m).astype(F64)).astype(F32)
    ny = (y.astype(F64) + 0.5 * (h - m).astype(F64)).astype(F32)
    # + 0: the C++ goes through int, so a truncated -0.5 is +0.0, never -0.0
    return (np.trunc(np.stack([nx, ny, m, m], axis=1)) + F32(0)).astype(F32)


def final_fix(boxes: np.ndarray) -> np.ndarray:
    """OpenFace's landmark-tightening box correction, in double then float (semantics 4.12)."""
    x, y, w, h = (boxes[:, i].astype(F64) for i in range(4))
    return np.stack([w * -0.0075 + x, h * 0.2459 + y, 1.0323 * w, 0.7751 * h], axis=1).astype(F32)


def _axis_taps(length: np.ndarray, size: int):
    """Per box, cv::resize's left/top source index and fraction for `length` px -> `size`: (n, size)."""
    s = 1.0 / (size / length.astype(F64))  # (n,)
    f = ((np.arange(size, dtype=F64)[None, :] + 0.5) * s[:, None] - 0.5).astype(F32)
    i0 = np.floor(f)
    frac = (f - i0).astype(F32)
    i0 = i0.astype(np.int64)
    return i0, frac


def crop_batch(
    image: np.ndarray, squares: np.ndarray, size: int, planar: bool = False, compiled_crops: bool = True
) -> np.ndarray:
    """Zero-padded crops of rectified boxes, resized to size x size and normalised (semantics 4.9).

    image: (H, W, 3) uint8 BGR; squares: (n, 4) float32 integer-valued. Returns (n, 3, size, size),
    or planar (3, size, size, n) with planar=True (the networks' layout).
    The crop of (x, y, w, h) is image columns x-1 .. x+w-1 (w+1 px), zeros outside the image;
    it is resized with cv::resize's bilinear rules by gathering straight from the image: by the
    compiled kernel when it is available (compiled_crops), else by the numpy code below (same bits).
    """
    n = len(squares)
    if n == 0:
        return np.zeros((3, size, size, 0) if planar else (0, 3, size, size), F32)
    H, W = image.shape[:2]
    b = squares.astype(np.int64)
    cw, ch = b[:, 2] + 1, b[:, 3] + 1  # crop buffer size
    cx0, cfx = _axis_taps(cw, size)
    cy0, cfy = _axis_taps(ch, size)
    # columns: left of the crop -> first column with weight 0; at or past its last column ->
    # that column copied (cv::resize), which is the blend p*1 + p*0 = p exactly
    last = cw[:, None] - 1
    cfx = np.where((cx0 < 0) | (cx0 >= last), F32(0), cfx).astype(F32)
    c0 = np.clip(cx0, 0, last)
    c1 = np.minimum(c0 + 1, last)
    r0 = np.clip(cy0, 0, ch[:, None] - 1)
    r1 = np.clip(cy0 + 1, 0, ch[:, None] - 1)
    if compiled_crops and _compiled_crop is not None:
        out = np.empty((3, size, size, n), F32)
        _compiled_crop(
            np.ascontiguousarray(image),
            b[:, 0] - 1,
            b[:, 1] - 1,
            np.ascontiguousarray(c0.T),
            np.ascontiguousarray(c1.T),
            np.ascontiguousarray(cfx.T),
            np.ascontiguousarray(r0.T),
            np.ascontiguousarray(r1.T),
            np.ascontiguousarray(cfy.T),
            out,
        )
        return out if planar else np.ascontiguousarray(out.transpose(3, 0, 1, 2))
    # image indices as (size, n); outside the image: read pixel 0, zeroed after the gather
    ys = [(r + b[:, 1:2] - 1).T[:, None, :] for r in (r0, r1)]  # (size, 1, n)
    xs = [(c + b[:, 0:1] - 1).T[None, :, :] for c in (c0, c1)]  # (1, size, n)
    # one 3-byte item per pixel: a gather moves whole BGR pixels
    pixels = np.ascontiguousarray(image).reshape(-1).view("V3")

    def taps(y, x):  # (size, size, n, 3) float32 BGR
        inside = (y >= 0) & (y < H) & (x >= 0) & (x < W)
        g = np.take(pixels, np.where(inside, y * W + x, 0)).view(np.uint8).reshape(size, size, n, 3)
        if not inside.all():
            g[~inside] = 0
        return g.astype(F32)

    one = F32(1)
    wx = cfx.T[None, :, :, None]
    wy = cfy.T[:, None, :, None]
    rows = [taps(y, xs[0]) * (one - wx) + taps(y, xs[1]) * wx for y in ys]
    planes = planar_input(rows[0] * (one - wy) + rows[1] * wy)  # (3, size, size, n)
    return planes if planar else np.ascontiguousarray(planes.transpose(3, 0, 1, 2))
