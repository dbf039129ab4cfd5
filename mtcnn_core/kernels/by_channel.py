"""Conv outputs of the panels that alternate between one chain and two, vectorised over channels.

On the avx2 build the first and the last 8-channel panel of a conv are two interleaved FMA chains
in one half of every 12-column GEMM call and one chain in the other half (semantics 6.8), so with
fewer than 11 boxes their kind changes every 6 x N output pixels. Vectorised over pixels
(`compiled.conv_span`) that costs a select per term. Here one vector holds one pixel's outputs
of LANES channels whose panels split in the same column classes, so a run of pixels of one
column class is one kind, chosen once per run, and every lane is the same chain of roundings as
the scalar rule's.

Layouts as in `compiled`: xf the flattened (C, H, W, N) input with slack, taps (K,) shifts, out
(O, ho, wo*N). A group's weights wg ((K+1) * LANES,) float32: row j holds term j's weight of each
of the group's channels (chans (LANES,) int64, -1 for unused lanes, whose weights are 0).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .borrowed import borrow, keep_alive
from .lanes import LANES, vadd, vfma_at, vload, vstore, vzero
from .openblas import WIDE_LEFT, WIDE_RIGHT

F32 = np.float32
#: Output pixels per register block (each a vector of LANES channels; 12 vectors when split).
PIXELS = 6


def channel_groups(table: np.ndarray, tail_panels: bool) -> np.ndarray:
    """(G, LANES) int64: the channels of the 8-channel panels split in exactly one half of a
    12-column call (table (O, 4) of `openblas.split_table`), and if tail_panels of those split
    only in the short calls at a call's end, grouped LANES // 8 panels at a time among panels
    with the same split classes; -1 pads a group."""
    by_classes: dict[bytes, list[int]] = {}
    for o0 in range(0, table.shape[0] - 7, 8):
        rows = table[o0 : o0 + 8]
        alternates = rows[0, WIDE_LEFT] != rows[0, WIDE_RIGHT]
        if (rows == rows[0]).all() and (alternates or (tail_panels and rows[0].any())):
            by_classes.setdefault(rows[0].tobytes(), []).extend(range(o0, o0 + 8))
    groups = []
    for chans in by_classes.values():
        for i in range(0, len(chans), LANES):
            part = chans[i : i + LANES]
            groups.append(part + [-1] * (LANES - len(part)))
    return np.array(groups, np.int64).reshape(-1, LANES)


def group_weights(wm: np.ndarray, chans: np.ndarray) -> np.ndarray:
    """(G, (K+1) * LANES) float32: each group's columns of wm (K+1, O), 0 for unused lanes."""
    padded = np.concatenate([wm, np.zeros((wm.shape[0], 1), F32)], axis=1)
    return np.ascontiguousarray(padded[:, chans].transpose(1, 0, 2)).reshape(len(chans), wm.shape[0] * LANES)


@njit(cache=True, nogil=True)
def conv_rows(xf, taps, wg, chans, bits, blocks, colcode, plus_zero, slope, fuse_prelu, wn, n, wo, out, y0, y1):
    """Output rows y0..y1-1 of the group's channels, then PReLU if fuse_prelu. bits: the classes
    (bit c for column class c) in which the group's channels are two chains; colcode (ho*wo,)."""
    k = wg.shape[0] // LANES - 1
    row_own = np.empty((wo * n + PIXELS) * LANES, F32)  # one output row, pixel-major
    # borrowed (see `borrowed`): the inlined helpers would otherwise count references per block
    xf, taps, wg, chans, blocks = borrow(xf), borrow(taps), borrow(wg), borrow(chans), borrow(blocks)
    colcode, slope, out, row = borrow(colcode), borrow(slope), borrow(out), borrow(row_own)
    for y in range(y0, y1):
        x0 = 0
        while x0 < wo:  # runs of stored columns of one kind
            split = (bits >> colcode[y * wo + x0]) & 1
            x1 = x0 + 1
            while x1 < wo and (bits >> colcode[y * wo + x1]) & 1 == split:
                x1 += 1
            for c in range(x0 * n, x1 * n, PIXELS):  # a last short block runs over; the next run or
                _pixels(xf, taps, y * wn + c, wg, blocks, k, split != 0, plus_zero, row, c * LANES)  # slack
            x0 = x1
        _store_row(row, chans, slope, fuse_prelu, out, y, wo * n)
    keep_alive(row_own)


@njit(cache=True, nogil=True, inline="always")
def _pixels(xf, taps, q, wg, blocks, k, split, plus_zero, buf, at):
    """buf[at+i*LANES : at+(i+1)*LANES] <- the outputs of virtual pixel q+i (i < 6): every K block,
    added as the C++ adds them (6.8: from C = +0 on avx2)."""
    t0 = t1 = t2 = t3 = t4 = t5 = vzero()
    for b in range(blocks.shape[0]):
        a0, a1, a2, a3, a4, a5 = _block(xf, taps, q, wg, blocks[b, 0], blocks[b, 1], k, split)
        if b == 0 and not plus_zero:
            t0, t1, t2, t3, t4, t5 = a0, a1, a2, a3, a4, a5
        else:
            t0, t1, t2, t3, t4, t5 = vadd(t0, a0), vadd(t1, a1), vadd(t2, a2), vadd(t3, a3), vadd(t4, a4), vadd(t5, a5)
    vstore(buf, at, t0)
    vstore(buf, at + LANES, t1)
    vstore(buf, at + 2 * LANES, t2)
    vstore(buf, at + 3 * LANES, t3)
    vstore(buf, at + 4 * LANES, t4)
    vstore(buf, at + 5 * LANES, t5)


@njit(cache=True, nogil=True, inline="always")
def _block(xf, taps, q, wg, s, e, k, split):
    """K block [s, e) of pixels q..q+5 as `compiled._block` computes it: one chain, or (split)
    the interleaved even/odd chains over terms s..f-1 combined as fl(even + odd) at the end.
    The bias is term k, its input 1."""
    z = vzero()
    a0 = a1 = a2 = a3 = a4 = a5 = z
    b0 = b1 = b2 = b3 = b4 = b5 = z
    j1 = min(e, k)
    f = s + ((e - s) // 8) * 8
    seq_from = s
    if split:
        seq_from = min(f, j1)
        seq_from -= (seq_from - s) % 2
        a0, a1, a2, a3, a4, a5, b0, b1, b2, b3, b4, b5 = _pairs(
            xf, taps, q, wg, s, seq_from, a0, a1, a2, a3, a4, a5, b0, b1, b2, b3, b4, b5
        )
    a0, a1, a2, a3, a4, a5 = _chain(xf, taps, q, wg, seq_from, j1, a0, a1, a2, a3, a4, a5)
    if e > k:  # the bias, on the odd chain only if it is an odd term < f
        w = vload(wg, k * LANES)
        if split and k < f and (k - s) % 2 == 1:
            b0, b1, b2, b3, b4, b5 = vadd(b0, w), vadd(b1, w), vadd(b2, w), vadd(b3, w), vadd(b4, w), vadd(b5, w)
        else:
            a0, a1, a2, a3, a4, a5 = vadd(a0, w), vadd(a1, w), vadd(a2, w), vadd(a3, w), vadd(a4, w), vadd(a5, w)
    if split:
        a0, a1, a2, a3, a4, a5 = vadd(a0, b0), vadd(a1, b1), vadd(a2, b2), vadd(a3, b3), vadd(a4, b4), vadd(a5, b5)
    return a0, a1, a2, a3, a4, a5


@njit(cache=True, nogil=True, inline="always")
def _chain(xf, taps, q, wg, j0, j1, a0, a1, a2, a3, a4, a5):
    """Continue one chain per output over terms j0..j1-1."""
    for j in range(j0, j1):
        w, p = vload(wg, j * LANES), q + taps[j]
        a0 = vfma_at(xf, p, w, a0)
        a1 = vfma_at(xf, p + 1, w, a1)
        a2 = vfma_at(xf, p + 2, w, a2)
        a3 = vfma_at(xf, p + 3, w, a3)
        a4 = vfma_at(xf, p + 4, w, a4)
        a5 = vfma_at(xf, p + 5, w, a5)
    return a0, a1, a2, a3, a4, a5


@njit(cache=True, nogil=True, inline="always")
def _pairs(xf, taps, q, wg, j0, j1, a0, a1, a2, a3, a4, a5, b0, b1, b2, b3, b4, b5):
    """Terms j0..j1-1 in (even, odd) pairs: even terms continue a*, odd terms b*."""
    for j in range(j0, j1, 2):
        w, p = vload(wg, j * LANES), q + taps[j]
        v, r = vload(wg, (j + 1) * LANES), q + taps[j + 1]
        a0, b0 = vfma_at(xf, p, w, a0), vfma_at(xf, r, v, b0)
        a1, b1 = vfma_at(xf, p + 1, w, a1), vfma_at(xf, r + 1, v, b1)
        a2, b2 = vfma_at(xf, p + 2, w, a2), vfma_at(xf, r + 2, v, b2)
        a3, b3 = vfma_at(xf, p + 3, w, a3), vfma_at(xf, r + 3, v, b3)
        a4, b4 = vfma_at(xf, p + 4, w, a4), vfma_at(xf, r + 4, v, b4)
        a5, b5 = vfma_at(xf, p + 5, w, a5), vfma_at(xf, r + 5, v, b5)
    return a0, a1, a2, a3, a4, a5, b0, b1, b2, b3, b4, b5


@njit(cache=True, nogil=True)
def _store_row(row, chans, slope, fuse_prelu, out, y, width):
    """out[chan, y, :width] <- the row's lane of each used channel (PReLU if fused)."""
    for lane in range(LANES):
        ch = chans[lane]
        if ch < 0:
            continue
        sl, dst = slope[ch], out[ch, y]
        for c in range(width):
            v = row[c * LANES + lane]
            dst[c] = v if not fuse_prelu or v >= 0 else v * sl
