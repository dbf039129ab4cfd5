"""The five layer operations of OpenFace's `CNN::Inference`, with the C++'s float rules.

Inputs are float32: planar (C, H, W, N) maps (channel planes first, the N boxes innermost: a
GEMM's output is the next layer's input as it stands) or (N, F) vectors. Conv and the fully connected layers go
through `engine` to pick the exact kernel or the host BLAS (see engine.py).
"""
from __future__ import annotations

import numpy as np

from . import engine as eng
from . import kernels

F32 = np.float32


def engine_check(layer, shape: tuple):
    """(kind, key) of the shape check that decides this layer's path for an input of `shape`
    ((C, H, W, N) maps or (N, F) vectors), or None for layers without a GEMM."""
    if layer.kind == "conv":
        o, _, kh, kw = layer.weight.shape
        rows = (shape[1] - kh + 1) * (shape[2] - kw + 1) * shape[3]
        return "conv", (layer.weight[0].size + 1, o, eng.row_bucket(rows))
    if layer.kind != "fc":
        return None
    o, k = layer.weight.shape
    per_pixel = len(shape) == 4 and shape[0] == k      # PNet: bias added in float32 afterwards
    rows = shape[1] * shape[2] * shape[3] if per_pixel else shape[0] if len(shape) == 2 else shape[3]
    if o >= 100:   # OpenCV sends m >= 100 to the LAPACK HAL: OpenBLAS's 16-lane dot (3.6)
        kind = "fc_lanes"
    else:          # cv::gemm native: sequential double sum (3.5a / 3.5c)
        kind = "fc_seq_bias_float" if per_pixel else "fc_seq_bias_double"
    return kind, (k, o, eng.row_bucket(rows, fc=True))


def conv(x: np.ndarray, layer, engine: str) -> np.ndarray:
    """Valid stride-1 convolution (semantics 3.1-3.2)."""
    if eng.use_blas(engine, *engine_check(layer, x.shape)):
        return kernels.conv_blas(x, layer.weight, layer.bias)
    return kernels.conv_exact(x, layer.weight, layer.bias)


def prelu(x: np.ndarray, layer) -> np.ndarray:
    """y = x where x >= 0, else x * slope (per channel: axis 0 of maps, axis 1 of vectors).

    Computed without a per-element branch: max(x, s*x) is that value wherever s <= 1 (for s < 0
    too) and min(x, s*x) wherever s >= 1, except at x = +-0, where numpy's SIMD max/min may pick
    either zero while the C++ keeps x's own bits; zeros are rare, so they are patched afterwards.
    A zero (or NaN) slope would turn +inf into NaN there: such layers take the plain rule.
    """
    axis = 0 if x.ndim == 4 else 1
    shape = [1] * x.ndim
    shape[axis] = -1
    s = layer.slope.astype(F32).reshape(shape)
    big = kernels.derived(layer.slope, "prelu_min_channels", _min_channels)
    if big is None:
        with np.errstate(over="ignore", invalid="ignore"):
            return np.where(x < 0, x * s, x)
    with np.errstate(over="ignore"):   # s*x may overflow where x > 0: that product is not kept
        y = np.multiply(x, s)
        np.maximum(x, y, out=y)
        if big.size:
            sel = (slice(None),) * axis + (big,)
            xs = x[sel]
            y[sel] = np.minimum(xs, xs * s[sel])
    if (x == 0).any():
        y = np.where(x == 0, x, y)
    return y


def _min_channels(slope: np.ndarray):
    """Channels whose PReLU is min(x, s*x) (s > 1), or None if a slope is 0 or NaN."""
    if not np.all(np.isfinite(slope) & (slope != 0)):
        return None
    return np.flatnonzero(slope > 1)


def pool_output_size(size: int, k: int, s: int) -> int:
    """C++ rule: trunc(roundf((size - k) / s)) + 1, roundf rounding halves away from zero."""
    q = float(F32(size - k) / F32(s))
    return int(np.trunc(np.sign(q) * np.floor(abs(q) + 0.5))) + 1


def maxpool(x: np.ndarray, layer) -> np.ndarray:
    """Max pooling with partial windows at the right/bottom edge (semantics 3.4); (C, H, W, N)."""
    _, h, w, _ = x.shape
    oh, ow = pool_output_size(h, layer.ky, layer.sy), pool_output_size(w, layer.kx, layer.sx)
    # separable (the max is order-free): over the window's rows, then its columns
    return _pool_axis(_pool_axis(x, 1, layer.ky, layer.sy, oh), 2, layer.kx, layer.sx, ow)


def _pool_axis(x: np.ndarray, axis: int, k: int, s: int, n_out: int) -> np.ndarray:
    """Max over windows [j*s, j*s + k) along `axis` for j < n_out; windows past the edge are cut
    off there, and one wholly outside would keep the C++'s starting value -FLT_MAX."""
    n = x.shape[axis]

    def along(start, stop, step=1):
        idx = [slice(None)] * x.ndim
        idx[axis] = slice(start, stop, step)
        return tuple(idx)

    shape = list(x.shape)
    shape[axis] = n_out
    out = np.empty(shape, F32)
    whole = min(n_out, (n - k) // s + 1) if n >= k else 0
    if whole > 0:
        dst = out[along(0, whole)]
        taps = [x[along(d, d + (whole - 1) * s + 1, s)] for d in range(k)]
        if k == 1:
            dst[...] = taps[0]
        else:
            np.maximum(taps[0], taps[1], out=dst)
            for t in taps[2:]:
                np.maximum(dst, t, out=dst)
    for j in range(whole, n_out):
        lo, hi = j * s, min(j * s + k, n)
        out[along(j, j + 1)] = x[along(lo, hi)].max(axis=axis, keepdims=True) if lo < hi \
            else -np.finfo(F32).max
    return out


def _fc_vector(v: np.ndarray, layer, engine: str, check) -> np.ndarray:
    kind, key = check
    if eng.use_blas(engine, kind, key):
        return eng.blas_fc(kind, v, layer.weight, layer.bias)
    return eng.exact_fc(kind, v, layer.weight, layer.bias)


def fully_connected(x: np.ndarray, layer, engine: str) -> np.ndarray:
    """FC, whose meaning depends on the input's shape as in the C++ `fully_connected` (3.5)."""
    o, k = layer.weight.shape
    check = engine_check(layer, x.shape)
    if x.ndim == 4 and x.shape[0] == k:
        # PNet: per pixel over the maps, bias added in float32 after the double sum
        _, h, w, n = x.shape
        y = _fc_vector(x.reshape(k, -1).T, layer, engine, check)     # (pixels, O)
        return np.ascontiguousarray(y.T).reshape(o, h, w, n)
    if x.ndim == 4:
        # RNet/ONet fc1: each map transposed before flattening -> v[c*H*W + x*H + y]
        v = x.transpose(3, 0, 2, 1).reshape(x.shape[3], -1)
    else:
        v = x
    if v.shape[1] != k:
        raise ValueError(f"fc layer expects {k} inputs, got {v.shape[1]}")
    return _fc_vector(np.ascontiguousarray(v), layer, engine, check)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) in float32 with OpenCV's exp."""
    return (F32(1) / (F32(1) + kernels.cv_exp32(-x))).astype(F32)


def apply(x: np.ndarray, layer, engine: str) -> np.ndarray:
    """Run one layer object from dat_format on x."""
    if layer.kind == "conv":
        return conv(x, layer, engine)
    if layer.kind == "prelu":
        return prelu(x, layer)
    if layer.kind == "maxpool":
        return maxpool(x, layer)
    if layer.kind == "fc":
        return fully_connected(x, layer, engine)
    if layer.kind == "sigmoid":
        return sigmoid(x)
    raise ValueError(f"unknown layer kind {layer.kind!r}")
