"""The five layer operations of OpenFace's `CNN::Inference`, with the C++'s float rules.

Inputs are float32: planar (C, H, W, N) maps (channel planes first, the N boxes innermost: a
GEMM's output is the next layer's input as it stands) or (N, F) vectors. Conv and the fully connected layers go
through `kernels`, which picks the implementation (compiled, reference or BLAS) for an
`Arithmetic` (engine, C++ build, threads).
"""

from __future__ import annotations

import numpy as np

from . import kernels
from .cvmath import cv_exp32
from .kernels.weights import derived

F32 = np.float32


def fc_kind(layer, shape: tuple) -> str:
    """Which arithmetic the C++ uses for this FC on an input of `shape` ((C, H, W, N) maps or
    (N, F) vectors): 'fc1' (OpenBLAS), or cv::gemm's double sums with the bias in float32 (PNet,
    per pixel) or in double (semantics 3.5, 3.6)."""
    o, k = layer.weight.shape
    if o >= 100:  # OpenCV sends m >= 100 to the LAPACK HAL: OpenBLAS (3.6, 6.8)
        return "fc1"
    per_pixel = len(shape) == 4 and shape[0] == k
    return "fc_seq_bias_float" if per_pixel else "fc_seq_bias_double"


def conv(x: np.ndarray, layer, arith, prelu_layer=None) -> np.ndarray:
    """Valid stride-1 convolution (semantics 3.1-3.2, 6.8), then the following PReLU if given
    (fused into the conv where the kernels can)."""
    if prelu_layer is not None and kernels.fuses_prelu(arith):
        return kernels.conv(x, layer.weight, layer.bias, arith, prelu_layer.slope)
    y = kernels.conv(x, layer.weight, layer.bias, arith)
    return y if prelu_layer is None else prelu(y, prelu_layer)


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
    big = derived(layer.slope, "prelu_min_channels", _min_channels)
    if big is None:
        with np.errstate(over="ignore", invalid="ignore"):
            return np.where(x < 0, x * s, x)
    with np.errstate(over="ignore"):  # s*x may overflow where x > 0: that product is not kept
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


def maxpool(x: np.ndarray, layer, arith="exact") -> np.ndarray:
    """Max pooling with partial windows at the right/bottom edge (semantics 3.4); (C, H, W, N).

    The C++ starts at -FLT_MAX and takes a value on a strict '>': the max of the window's
    non-NaN values, at least -FLT_MAX. The compiled kernel loops like that; the numpy path is
    separable (over the window's rows, then its columns) with NaN-ignoring fmax.
    """
    _, h, w, _ = x.shape
    oh, ow = pool_output_size(h, layer.ky, layer.sy), pool_output_size(w, layer.kx, layer.sx)
    if kernels.arithmetic(arith).implementation == "compiled":
        return kernels.maxpool(x, layer.ky, layer.kx, layer.sy, layer.sx, oh, ow)
    out = _pool_axis(_pool_axis(x, 1, layer.ky, layer.sy, oh), 2, layer.kx, layer.sx, ow)
    return np.fmax(out, -np.finfo(F32).max, out=out)


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
            np.fmax(taps[0], taps[1], out=dst)
            for t in taps[2:]:
                np.fmax(dst, t, out=dst)
    for j in range(whole, n_out):
        lo, hi = j * s, min(j * s + k, n)
        out[along(j, j + 1)] = (
            np.fmax.reduce(x[along(lo, hi)], axis=axis, keepdims=True) if lo < hi else -np.finfo(F32).max
        )
    return out


def fully_connected(x: np.ndarray, layer, arith) -> np.ndarray:
    """FC, whose meaning depends on the input's shape as in the C++ `fully_connected` (3.5)."""
    o, k = layer.weight.shape
    kind = fc_kind(layer, x.shape)
    if x.ndim == 4 and x.shape[0] == k:
        # PNet: per pixel over the maps, bias added in float32 after the double sum
        _, h, w, n = x.shape
        return kernels.fc(kind, x.reshape(k, -1), layer.weight, layer.bias, arith).reshape(o, h, w, n)
    if x.ndim == 4:
        # RNet/ONet fc1: each map transposed before flattening -> v[c*H*W + x*H + y]
        cols = x.transpose(0, 2, 1, 3).reshape(-1, x.shape[3])
    else:
        cols = x.T
    if cols.shape[0] != k:
        raise ValueError(f"fc layer expects {k} inputs, got {cols.shape[0]}")
    return np.ascontiguousarray(kernels.fc(kind, cols, layer.weight, layer.bias, arith).T)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) in float32 with OpenCV's exp."""
    return (F32(1) / (F32(1) + cv_exp32(-x))).astype(F32)


def apply(x: np.ndarray, layer, arith) -> np.ndarray:
    """Run one layer object from dat_format on x."""
    if layer.kind == "conv":
        return conv(x, layer, arith)
    if layer.kind == "prelu":
        return prelu(x, layer)
    if layer.kind == "maxpool":
        return maxpool(x, layer, arith)
    if layer.kind == "fc":
        return fully_connected(x, layer, arith)
    if layer.kind == "sigmoid":
        return sigmoid(x)
    raise ValueError(f"unknown layer kind {layer.kind!r}")
