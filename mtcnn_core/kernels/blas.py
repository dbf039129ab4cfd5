"""The host BLAS (numpy's sgemm): fast, but its last bits depend on the machine's kernel (6.6).

Used only by engine 'blas', to show what an inexact port gets; the structure (K order, blocks,
fc1 lanes, double sums) is the C++'s, the accumulation inside each call is the BLAS's own.
"""

from __future__ import annotations

import numpy as np

from . import openblas
from .reference import conv_weight_matrix
from .weights import derived

F32, F64 = np.float32, np.float64


def im2col_planar(x: np.ndarray, kh: int, kw: int) -> np.ndarray:
    """(C, H, W, N) float32 -> (K+1, Ho*Wo*N) im2col rows in the C++'s column order, ones last."""
    ch, h, w, n = x.shape
    ho, wo = h - kh + 1, w - kw + 1
    p, k = n * ho * wo, ch * kh * kw
    full = np.empty((k + 1, p), F32)
    full[k] = 1
    taps = full[:k].reshape(ch, kw, kh, ho, wo, n)
    for c in range(kw):
        for r in range(kh):
            taps[:, c, r] = x[:, r : r + ho, c : c + wo]
    return full


def conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """x (C, H, W, N) -> (O, Ho, Wo, N): (O, K+1) @ im2col (K+1, P), one product per K block."""
    _, h, w, n = x.shape
    o, _, kh, kw = weight.shape
    ho, wo = h - kh + 1, w - kw + 1
    wt = derived(weight, "conv_t", lambda w, b: np.ascontiguousarray(conv_weight_matrix(w, b).T), bias)
    cols = im2col_planar(x, kh, kw)
    out = None
    for s, e in openblas.k_blocks(wt.shape[1]):
        part = wt[:, s:e] @ cols[s:e]
        out = part if out is None else out + part
    return out.reshape(o, ho, wo, n)


def fc_lanes(v: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """fc1 as a plain float32 GEMM plus bias: (N, K) @ (K, O) -> (N, O)."""
    return v @ weight.T + bias.astype(F32)[None, :]


def fc_double_seq(v: np.ndarray, weight: np.ndarray, bias: np.ndarray, bias_in_double: bool) -> np.ndarray:
    """The small FCs as a float64 GEMM (the BLAS's own summation order)."""
    acc = v.astype(F64) @ weight.astype(F64).T
    if bias_in_double:
        return (acc + bias.astype(F64)[None, :]).astype(F32)
    return acc.astype(F32) + bias.astype(F32)[None, :]
