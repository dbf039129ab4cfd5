"""OpenCV's float `cv::exp` and glibc's `expf`, bit for bit (semantics 6.3 and 4.10)."""

from __future__ import annotations

import numpy as np

from .kernels.reference import fma32

F32, F64 = np.float32, np.float64

# ---- OpenCV's float exp (semantics 6.3) -------------------------------------------------------
_EXP_A0 = 0.009670371139572337719125840413672004409288
_EXP_A = [
    F32(c / _EXP_A0)
    for c in (
        0.05550339366753125211915322047004666939128,
        0.2402265109513301490103372422686535526573,
        0.6931471805521448196800669615864773144641,
        1.000000000000002438532970795181890933776,
    )
]
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
        p = _fma_step(p, f, a)
    return p * y


def _fma_step(p: np.ndarray, f: np.ndarray, a) -> np.ndarray:
    """fma32(p, f, a) for same-shape float32 arrays: compiled when numba is there, else numpy."""
    from .kernels import compiled

    if compiled is None or p.shape != f.shape:
        return fma32(p, f, a)
    flat_p, flat_f = np.ascontiguousarray(p, F32).reshape(-1), np.ascontiguousarray(f, F32).reshape(-1)
    out = np.empty(flat_p.shape, F32)
    return compiled.fma_scalar_into(flat_p, flat_f, F32(a), out).reshape(p.shape)


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
_EXPF_C = (
    float.fromhex("0x1.c6af84b912394p-5") / 32**3,
    float.fromhex("0x1.ebfce50fac4f3p-3") / 32**2,
    float.fromhex("0x1.62e42ff0c52d6p-1") / 32,
)


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
