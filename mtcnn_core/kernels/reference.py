"""Reference exact kernels in numpy: slow, readable, and what the compiled kernels are tested against.

* `fma_chain_into`: acc = fma(a_j, b_j, acc) over j, vectorised over all outputs. The product of
  two float32 is exact in float64, so f32(p + acc) is the fma except when the float64 sum lands on
  a float32 midpoint (double rounding, semantics 6.5): those cases are detected and corrected.
* `conv`: OpenFace's im2col + sgemm order (semantics 3.1-3.2), with a build's K blocks and split
  chains (6.8, `openblas`).
* `fc_lanes`, `fc_blocks`: fc1 under the AVX-512 (3.6) and AVX2 (6.8) builds.
* `fc_double_seq`: cv::gemm's sequential double sum (semantics 3.5a, 3.5c).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import openblas

F32, F64 = np.float32, np.float64
# A float64 is a float32 midpoint iff its low 29 mantissa bits are 1 followed by 28 zeros, i.e.
# iff shifting those bits to the top gives exactly INT64_MIN (the smallest int64: a cheap min test).
_SHIFT29, _INT64_MIN = 35, np.iinfo(np.int64).min

#: Outputs x terms per tile; tiles are sized so a tile's float64 product stays near this many values.
TILE_ELEMENTS = 1 << 17
#: Row bands of the reference conv run on up to two threads (the result does not depend on it).
_threads = max(1, min(2, os.cpu_count() or 1))
_pool = None


def _map(fn, items):
    global _pool
    if _threads == 1 or len(items) < 2:
        return [fn(i) for i in items]
    if _pool is None:
        _pool = ThreadPoolExecutor(_threads, thread_name_prefix="mtcnn-exact")
    return list(_pool.map(fn, items))


# ---- exact fused multiply-add ------------------------------------------------------------------
def _fix_midpoints(acc, prod, s, flags):
    """Where f64 sum s sits on a float32 midpoint, round toward the exact p + acc (TwoSum error)."""
    p, c, sm = prod[flags], acc[flags].astype(F64), s[flags]
    bb = sm - p
    err = (p - (sm - bb)) + (c - bb)
    r = sm.astype(F32)
    up = (err > 0) & (r.astype(F64) < sm)
    down = (err < 0) & (r.astype(F64) > sm)
    r[up] = np.nextafter(r[up], F32(np.inf))
    r[down] = np.nextafter(r[down], F32(-np.inf))
    s[flags] = r


class _ChainBuffers:
    """Scratch arrays for one tile of a chain, reused across terms."""

    def __init__(self, shape):
        self.prod = np.empty(shape, F64)
        self.s = np.empty(shape, F64)
        self.bits = np.empty(shape, np.int64)


def fma_step(acc, prod, buf: _ChainBuffers):
    """acc <- fma rounding of (prod + acc); acc float32, prod float64 holding an exact product."""
    s, bits = buf.s, buf.bits
    np.add(prod, acc, out=s)
    np.left_shift(s.view(np.int64), _SHIFT29, out=bits)
    if bits.min() == _INT64_MIN:
        _fix_midpoints(acc, prod, s, bits == _INT64_MIN)
    np.copyto(acc, s, casting="same_kind")


def fma32(a, b, c):
    """Element-wise float32 fma(a, b, c) with a single rounding (small arrays; used by cv_exp32)."""
    a, b, c = (np.asarray(v, F32) for v in (a, b, c))
    shape = np.broadcast_shapes(a.shape, b.shape, c.shape)
    acc = np.broadcast_to(c, shape).copy()
    prod = np.broadcast_to(a.astype(F64) * b.astype(F64), shape).copy()
    fma_step(acc, prod, _ChainBuffers(shape))
    return acc


def fma_chain_into(acc, cols, weights, j0, j1):
    """acc (O, T) f32 <- chain over terms j0..j1-1: acc = fma(cols[j], weights[j], acc).

    cols: (K, T) float64 (exact float32 values), weights: (K, O) float64.
    """
    buf = _ChainBuffers(acc.shape)
    prod = buf.prod
    for j in range(j0, j1):
        np.multiply(weights[j][:, None], cols[j][None, :], out=prod)
        fma_step(acc, prod, buf)


# ---- convolution ------------------------------------------------------------------------------
# Maps are planar (C, H, W, N): channel planes first and the batch of boxes innermost, so a conv's
# GEMM output (O, Ho*Wo*N) is the next layer's input without a transpose.
def im2col_t(x: np.ndarray, kh: int, kw: int, dtype=F64) -> np.ndarray:
    """(C, H, W, N) -> (C*kw*kh, Ho*Wo*N): row j = in*kh*kw + c*kh + r, the C++'s column order."""
    ch, h, w, n = x.shape
    ho, wo = h - kh + 1, w - kw + 1
    cols = np.empty((ch, kw, kh, ho, wo, n), dtype)
    for c in range(kw):
        for r in range(kh):
            cols[:, c, r] = x[:, r : r + ho, c : c + wo]
    return cols.reshape(ch * kw * kh, ho * wo * n)


def conv_weight_matrix(weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """(O, C, kh, kw) + (O,) -> (C*kw*kh + 1, O) float32, rows in im2col order, bias last."""
    o = weight.shape[0]
    w = weight.transpose(1, 3, 2, 0).reshape(-1, o)
    return np.concatenate([w, bias[None, :]], axis=0).astype(F32)


def _tile_bounds(total: int, per_item: int):
    """Split range(total) into tiles of about TILE_ELEMENTS / per_item items."""
    step = max(1, TILE_ELEMENTS // max(per_item, 1))
    return [(s, min(s + step, total)) for s in range(0, total, step)]


def _block_chain(cols, wm, s, e, split):
    """One K block [s, e) of every output: a sequential chain, or where `split` (O, T) is set the
    two interleaved chains of semantics 6.8 (odd terms below the last full 8 on the second)."""
    acc = np.zeros((wm.shape[1], cols.shape[1]), F32)
    fma_chain_into(acc, cols, wm, s, e)
    if split is None or not split.any():
        return acc
    even, odd = np.zeros_like(acc), np.zeros_like(acc)
    f = s + (e - s) // 8 * 8
    for j in range(s, e):
        fma_chain_into(odd if j < f and (j - s) % 2 else even, cols, wm, j, j + 1)
    return np.where(split, even + odd, acc)


def gemm_chain(cols, wm, build: str = "avx512", split=None) -> np.ndarray:
    """(K+1, T) float64 im2col columns (ones row last) x (K+1, O) float64 -> (O, T) float32, the
    C++'s order: K blocks added in float32 (from C = +0 under avx2), outputs in `split` split."""
    total = None
    for s, e in openblas.k_blocks(wm.shape[0]):
        acc = _block_chain(cols, wm, s, e, split)
        if total is None:
            total = acc + F32(0) if build == "avx2" else acc
        else:
            total += acc
    return total


def _with_ones(cols: np.ndarray) -> np.ndarray:
    return np.concatenate([cols, np.ones((1, cols.shape[1]), cols.dtype)], axis=0)


def conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, build: str = "avx512") -> np.ndarray:
    """Valid conv of x (C, H, W, N) float32 -> (O, Ho, Wo, N), bit-identical to OpenFace's sgemm
    for the build. One GEMM call of the C++ covers one box (or one PNet level): Ho*Wo columns."""
    _, h, w, n = x.shape
    o, _, kh, kw = weight.shape
    ho, wo = h - kh + 1, w - kw + 1
    wm64 = conv_weight_matrix(weight, bias).astype(F64)
    split_all = openblas.split_mask(o, ho * wo, build).reshape(o, ho, wo, 1)
    x64 = x.astype(F64)
    out = np.empty((o, ho, wo, n), F32)

    def run_tile(bounds):
        # tiles are bands of output rows (all boxes: the boxes are the innermost axis)
        r0, r1 = bounds
        cols = im2col_t(x64[:, r0 : r1 + kh - 1], kh, kw)
        split = np.broadcast_to(split_all[:, r0:r1], (o, r1 - r0, wo, n)).reshape(o, -1)
        out[:, r0:r1] = gemm_chain(_with_ones(cols), wm64, build, split).reshape(o, r1 - r0, wo, n)

    _map(run_tile, _tile_bounds(ho, o * wo * n))
    return out


# ---- fully connected --------------------------------------------------------------------------
def _pairwise_lanes(lanes: np.ndarray) -> np.ndarray:
    """Adjacent-pairwise float32 reduction over the last axis of 16 lanes."""
    while lanes.shape[-1] > 1:
        lanes = lanes[..., 0::2] + lanes[..., 1::2]
    return lanes[..., 0]


def fc_lanes(v: np.ndarray, weight: np.ndarray, bias: np.ndarray, lanes: int = 16) -> np.ndarray:
    """fc1, AVX-512 build (3.6): 16 FMA chains over k = l, l+16, ..., pairwise-reduced, + bias.

    v: (N, K) float32, weight: (O, K) float32 -> (N, O) float32.
    """
    n, k = v.shape
    o = weight.shape[0]
    steps = -(-k // lanes)
    pad = steps * lanes - k
    v64 = np.pad(v.astype(F64), ((0, 0), (0, pad)))
    w64 = np.pad(weight.astype(F64), ((0, 0), (0, pad)))
    acc = np.zeros((n, o, lanes), F32)
    buf = _ChainBuffers(acc.shape)
    for s in range(steps):
        ks = slice(s * lanes, (s + 1) * lanes)
        np.multiply(v64[:, None, ks], w64[None, :, ks], out=buf.prod)
        fma_step(acc, buf.prod, buf)
    return _pairwise_lanes(acc) + bias.astype(F32)[None, :]


def fc_blocks(v: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """fc1, AVX2 build (6.8): C = bias; per K block one sequential chain from +0, C = fl(C + acc).

    v: (N, K) float32, weight: (O, K) float32 -> (N, O) float32.
    """
    cols, wm = v.T.astype(F64), weight.T.astype(F64)
    total = np.broadcast_to(bias.astype(F32)[:, None], (weight.shape[0], v.shape[0])).copy()
    for s, e in openblas.k_blocks(v.shape[1]):
        acc = np.zeros_like(total)
        fma_chain_into(acc, cols, wm, s, e)
        total += acc
    return total.T


def fc_double_seq(v: np.ndarray, weight: np.ndarray, bias: np.ndarray, bias_in_double: bool) -> np.ndarray:
    """cv::gemm's native path: each output a sequential double sum over k, then float32 (3.5a/3.5c).

    v: (N, K) float32, weight: (O, K) -> (N, O) float32. bias_in_double adds the bias before
    rounding (1-D fc); otherwise it is added in float32 afterwards (PNet's per-pixel fc).
    """
    v64, w64 = v.astype(F64), weight.astype(F64)
    acc = np.zeros((v.shape[0], weight.shape[0]), F64)
    for j in range(v.shape[1]):
        acc += v64[:, j, None] * w64[None, :, j]
    if bias_in_double:
        return (acc + bias.astype(F64)[None, :]).astype(F32)
    return acc.astype(F32) + bias.astype(F32)[None, :]
