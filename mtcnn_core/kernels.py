"""Exact float32 kernels: the C++'s accumulation orders, computed in numpy independently of the BLAS.

* `fma_chain_into`: acc = fma(a_j, b_j, acc) over j, vectorised over all outputs. The product of
  two float32 is exact in float64, so f32(p + acc) is the fma except when the float64 sum lands on
  a float32 midpoint (double rounding, semantics 6.5): those cases are detected and corrected.
* `conv_exact`: OpenFace's im2col + sgemm order (semantics 3.1-3.2).
* `fc_lanes_exact`: OpenBLAS's 16-lane small-matrix dot used for fc1 (semantics 3.6).
* `fc_double_seq`: cv::gemm's sequential double sum (semantics 3.5a, 3.5c).
* `cv_exp32`: OpenCV 4.6's float exp (semantics 6.3).
"""
from __future__ import annotations

import os
import weakref
from concurrent.futures import ThreadPoolExecutor

import numpy as np

F32, F64 = np.float32, np.float64
# A float64 is a float32 midpoint iff its low 29 mantissa bits are 1 followed by 28 zeros, i.e.
# iff shifting those bits to the top gives exactly INT64_MIN (the smallest int64: a cheap min test).
_SHIFT29, _INT64_MIN = 35, np.iinfo(np.int64).min

#: Outputs x terms per tile; tiles are sized so a tile's float64 product stays near this many values.
TILE_ELEMENTS = 1 << 17
_threads = max(1, min(2, os.cpu_count() or 1))
_pool = None


def set_threads(n: int):
    """Threads used by the exact kernels (results do not depend on it)."""
    global _threads, _pool
    _threads = max(1, int(n))
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
# GEMM output (O, Ho*Wo*N) is the next layer's input without a transpose, im2col copies whole
# shifted planes, and pooling runs over contiguous runs of N boxes.
def im2col_t(x: np.ndarray, kh: int, kw: int, dtype=F64) -> np.ndarray:
    """(C, H, W, N) -> (C*kw*kh, Ho*Wo*N): row j = in*kh*kw + c*kh + r, the C++'s column order."""
    ch, h, w, n = x.shape
    ho, wo = h - kh + 1, w - kw + 1
    cols = np.empty((ch, kw, kh, ho, wo, n), dtype)
    for c in range(kw):
        for r in range(kh):
            cols[:, c, r] = x[:, r:r + ho, c:c + wo]
    return cols.reshape(ch * kw * kh, ho * wo * n)


def conv_weight_matrix(weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """(O, C, kh, kw) + (O,) -> (C*kw*kh + 1, O) float32, rows in im2col order, bias last."""
    o = weight.shape[0]
    w = weight.transpose(1, 3, 2, 0).reshape(-1, o)
    return np.concatenate([w, bias[None, :]], axis=0).astype(F32)


def conv_split(k_plus_1: int):
    """Where OpenBLAS splits the K loop (semantics 3.2): GEMM_Q=384; Q < K < 2Q -> half, rounded up to 8."""
    q = 384
    if k_plus_1 <= q or k_plus_1 >= 2 * q:
        return None
    return ((k_plus_1 // 2) + 7) // 8 * 8


def _tile_bounds(total: int, per_item: int, unit: int = 1):
    """Split range(total) into tiles of about TILE_ELEMENTS / per_item items (multiples of unit)."""
    step = max(unit, (TILE_ELEMENTS // max(per_item, 1)) // unit * unit)
    return [(s, min(s + step, total)) for s in range(0, total, step)]


def _chain_tile(cols: np.ndarray, wm: np.ndarray, split) -> np.ndarray:
    """(K+1, T) float64 columns (ones row last) x (K+1, O) float64 -> (O, T) float32, C++ order."""
    acc = np.zeros((wm.shape[1], cols.shape[1]), F32)
    if split is None:
        fma_chain_into(acc, cols, wm, 0, wm.shape[0])
    else:  # ONet conv3: two chains added in float32 (semantics 3.2)
        acc2 = np.zeros_like(acc)
        fma_chain_into(acc, cols, wm, 0, split)
        fma_chain_into(acc2, cols, wm, split, wm.shape[0])
        acc += acc2
    return acc


def _with_ones(cols: np.ndarray) -> np.ndarray:
    return np.concatenate([cols, np.ones((1, cols.shape[1]), cols.dtype)], axis=0)


def gemm_exact_rows(a: np.ndarray, wm: np.ndarray) -> np.ndarray:
    """Exact [a | 1] @ wm for a (P, K) float32 and wm (K+1, O) -> (P, O) float32."""
    wm64, split = wm.astype(F64), conv_split(wm.shape[0])
    out = np.empty((a.shape[0], wm.shape[1]), F32)

    def run(bounds):
        r0, r1 = bounds
        out[r0:r1] = _chain_tile(_with_ones(a[r0:r1].T.astype(F64)), wm64, split).T

    _map(run, _tile_bounds(a.shape[0], wm.shape[1]))
    return out


def gemm_blas_rows(a: np.ndarray, wm: np.ndarray) -> np.ndarray:
    """Host-BLAS [a | 1] @ wm for a (P, K) -> (P, O), through the same padded (K+1, P) column
    buffer and call as `conv_blas` (the shape checks must exercise the production path)."""
    p, k = a.shape
    cols = _padded_cols(k, p, F32)
    cols[:k, :p] = a.T
    return _gemm_cols(np.ascontiguousarray(wm.T), cols)[:, :p].T


def _padded_cols(k: int, p: int, dtype) -> np.ndarray:
    """(k+1, padded P) buffer: the ones row for the bias, zero columns past P (few BLAS shapes)."""
    from .engine import padded_rows
    full = np.empty((k + 1, padded_rows(p)), dtype)
    full[:, p:] = 0
    full[k, :p] = 1
    return full


def _gemm_cols(wt: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(O, K+1) @ (K+1, P) -> (O, P) float32."""
    split = conv_split(wt.shape[1])
    if split is None:
        return wt @ cols
    # the C++'s OpenBLAS split K here (semantics 3.2); do the same with two calls
    out = wt[:, :split] @ cols[:split]
    out += wt[:, split:] @ cols[split:]
    return out


def conv_exact(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Valid conv of x (C, H, W, N) float32 -> (O, Ho, Wo, N), bit-identical to OpenFace's chain."""
    _, h, w, n = x.shape
    o, _, kh, kw = weight.shape
    ho, wo = h - kh + 1, w - kw + 1
    wm = conv_weight_matrix(weight, bias)
    wm64, split = wm.astype(F64), conv_split(wm.shape[0])
    x64 = x.astype(F64)
    out = np.empty((o, ho, wo, n), F32)

    def run_tile(bounds):
        # tiles are bands of output rows (all boxes: the boxes are the innermost axis)
        r0, r1 = bounds
        cols = im2col_t(x64[:, r0:r1 + kh - 1], kh, kw)
        out[:, r0:r1] = _chain_tile(_with_ones(cols), wm64, split).reshape(o, r1 - r0, wo, n)

    _map(run_tile, _tile_bounds(ho, o * wo * n))
    return out


def im2col_planar(x: np.ndarray, kh: int, kw: int) -> np.ndarray:
    """(C, H, W, N) float32 -> (K+1, P_padded) im2col rows in the C++'s column order, the ones
    row for the bias last and zero columns up to the padded count: one plane copy per tap."""
    ch, h, w, n = x.shape
    ho, wo = h - kh + 1, w - kw + 1
    p, k = n * ho * wo, ch * kh * kw
    full = _padded_cols(k, p, F32)
    taps = full[:k, :p].reshape(ch, kw, kh, ho, wo, n)
    for c in range(kw):
        for r in range(kh):
            taps[:, c, r] = x[:, r:r + ho, c:c + wo]
    return full


def conv_blas(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The same conv as one host-BLAS sgemm (O, K+1) @ im2col (K+1, P), the C++'s K order.

    x (C, H, W, N) -> (O, Ho, Wo, N), a view into the (padded) GEMM output.
    """
    _, h, w, n = x.shape
    o, _, kh, kw = weight.shape
    ho, wo = h - kh + 1, w - kw + 1
    wt = derived(weight, "conv_t", lambda w, b: np.ascontiguousarray(conv_weight_matrix(w, b).T), bias)
    out = _gemm_cols(wt, im2col_planar(x, kh, kw))
    return out[:, :n * ho * wo].reshape(o, ho, wo, n)


# ---- fully connected --------------------------------------------------------------------------
def _pairwise_lanes(lanes: np.ndarray) -> np.ndarray:
    """Adjacent-pairwise float32 reduction over the last axis of 16 lanes."""
    while lanes.shape[-1] > 1:
        lanes = lanes[..., 0::2] + lanes[..., 1::2]
    return lanes[..., 0]


def fc_lanes_exact(v: np.ndarray, weight: np.ndarray, bias: np.ndarray, lanes: int = 16) -> np.ndarray:
    """fc1 (semantics 3.6): 16 FMA chains over k = l, l+16, ..., pairwise-reduced, then + bias.

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


def _padded_count(rows: int) -> int:
    """Padded row count of an FC's GEMM (engine.padded_rows with the FC buckets)."""
    from .engine import padded_rows
    return padded_rows(rows, fc=True)


def _padded(v: np.ndarray, dtype, extra_ones: bool = False) -> np.ndarray:
    """Rows padded (few distinct BLAS shapes), optional ones column for a bias."""
    full = np.zeros((_padded_count(v.shape[0]), v.shape[1] + extra_ones), dtype)
    full[:v.shape[0], :v.shape[1]] = v
    if extra_ones:
        full[:, -1] = 1
    return full


def fc_lanes_blas(v: np.ndarray, weight: np.ndarray, bias: np.ndarray, lanes: int = 16) -> np.ndarray:
    """fc1's 16-lane structure as one stacked GEMM, lane by lane (exact iff the BLAS chains
    sequentially): (lanes, N, steps) @ (lanes, steps, O), then the pairwise lane reduction."""
    n, k = v.shape
    steps = -(-k // lanes)
    full = np.zeros((_padded_count(n), steps * lanes), F32)
    full[:n, :k] = v
    by_lane = np.ascontiguousarray(full.reshape(-1, steps, lanes).transpose(2, 0, 1))
    acc = np.matmul(by_lane, derived(weight, "lanes", _lane_weights, lanes))   # (lanes, Np, O)
    while acc.shape[0] > 1:
        acc = acc[0::2] + acc[1::2]
    return acc[0, :n] + bias.astype(F32)[None, :]


def _lane_weights(weight: np.ndarray, lanes: int) -> np.ndarray:
    """(O, K) -> (lanes, steps, O) float32, zero-padded: lane l holds k = l, l+lanes, ..."""
    o, k = weight.shape
    steps = -(-k // lanes)
    w = np.zeros((o, steps * lanes), F32)
    w[:, :k] = weight
    return np.ascontiguousarray(w.reshape(o, steps, lanes).transpose(2, 1, 0))


_derived: dict = {}


def derived(array: np.ndarray, tag: str, fn, *args):
    """fn(array, *args), computed once per weight array (model weights never change in place)."""
    key = (id(array), tag) + tuple(id(a) if isinstance(a, np.ndarray) else a for a in args)
    hit = _derived.get(key)
    if hit is not None and hit[0]() is array:
        return hit[1]
    value = fn(array, *args)
    for old in [k for k, (ref, _) in _derived.items() if ref() is None]:
        del _derived[old]
    _derived[key] = (weakref.ref(array), value)
    return value


def fc_seq_blas(v: np.ndarray, weight: np.ndarray, bias: np.ndarray, bias_in_double: bool) -> np.ndarray:
    """The sequential double sum as a float64 GEMM (exact iff the BLAS chains sequentially: the
    float products are exact in double, so an FMA chain equals multiply-then-add)."""
    if bias_in_double:
        w = np.concatenate([weight.astype(F64), bias.astype(F64)[:, None]], axis=1)
        return (_padded(v, F64, extra_ones=True) @ w.T)[:v.shape[0]].astype(F32)
    # per pixel (PNet): as (O, K) @ (K, P), the planar maps' layout; returns a (P, O) view
    n, k = v.shape
    cols = np.zeros((k, _padded_count(n)), F64)
    cols[:, :n] = v.T
    out = (weight.astype(F64) @ cols)[:, :n].astype(F32)
    out += bias.astype(F32)[:, None]
    return out.T


# ---- OpenCV's float exp (semantics 6.3) -------------------------------------------------------
_EXP_A0 = 0.009670371139572337719125840413672004409288
_EXP_A = [F32(c / _EXP_A0) for c in (0.05550339366753125211915322047004666939128,
                                      0.2402265109513301490103372422686535526573,
                                      0.6931471805521448196800669615864773144641,
                                      1.000000000000002438532970795181890933776)]
_EXP_TAB = np.array([2.0 ** (j / 64) * _EXP_A0 for j in range(64)], dtype=F32)
_LOG2E = 1.4426950408889634073599246810019
_EXP_PRE, _EXP_POST, _EXP_LIM = F32(64 * _LOG2E), F32(1 / 64), F32(3000 / _LOG2E)


def cv_exp32(x: np.ndarray) -> np.ndarray:
    """OpenCV 4.6 `cv::exp` on float32 (hal::exp32f, non-IPP, FMA dispatch), bit for bit."""
    x = np.clip(np.asarray(x, F32), -_EXP_LIM, _EXP_LIM)
    t = x * _EXP_PRE
    n = np.rint(t).astype(np.int32)
    f = (t - n.astype(F32)) * _EXP_POST
    e = np.clip((n >> 6) + 127, 0, 255).astype(np.uint32) << np.uint32(23)
    y = _EXP_TAB[n & 63] * e.view(F32)
    p = f + _EXP_A[0]
    for a in _EXP_A[1:]:
        p = fma32(p, f, a)
    return p * y


# ---- glibc's expf (used by the RNet/ONet probability, semantics 4.10) --------------------------
def _glibc_expf_table():
    """2^(i/32) as correctly rounded doubles, stored like glibc's __exp2f_data.tab."""
    from decimal import Decimal, getcontext
    from fractions import Fraction
    getcontext().prec = 50
    ln2 = Decimal(2).ln()
    tab = np.array([float(Fraction((Decimal(i) / 32 * ln2).exp())) for i in range(32)])
    return tab.view(np.uint64) - (np.arange(32, dtype=np.uint64) << np.uint64(52)) // np.uint64(32)


_EXPF_T = _glibc_expf_table()
_EXPF_INVLN2N = float.fromhex("0x1.71547652b82fep+0") * 32
_EXPF_C = (float.fromhex("0x1.c6af84b912394p-5") / 32 ** 3,
           float.fromhex("0x1.ebfce50fac4f3p-3") / 32 ** 2,
           float.fromhex("0x1.62e42ff0c52d6p-1") / 32)


def glibc_expf(x: np.ndarray) -> np.ndarray:
    """glibc's `expf` (2^(k/32) table + cubic in double, then rounded to float).

    Not correctly rounded: near float32 midpoints it can differ from f32(exp(x)), and the C++'s
    std::expf is this function. Inputs are clamped to (-103, 89) where glibc returns 0 / inf.
    """
    x = np.asarray(x, F32)
    xd = np.clip(x.astype(F64), -110.0, 100.0)
    z = _EXPF_INVLN2N * xd
    kd = np.rint(z)
    ki = kd.astype(np.int64).view(np.uint64)
    r = z - kd
    s = (_EXPF_T[(ki % np.uint64(32)).astype(np.int64)] + (ki << np.uint64(47))).view(F64)
    c0, c1, c2 = _EXPF_C
    y = (c0 * r + c1) * (r * r) + (c2 * r + 1.0)
    with np.errstate(over="ignore"):
        out = (y * s).astype(F32)
    out[x > F32(88.72283)] = np.inf
    out[x < F32(-103.97208)] = 0
    return out
