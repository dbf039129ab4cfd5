"""Each layer and kernel against a deliberately naive scalar loop (exact arithmetic via Fraction)."""

import ctypes
import ctypes.util
import math
from fractions import Fraction

import numpy as np
import pytest

from mtcnn_core import cvmath, layers
from mtcnn_core.dat_format import FCLayer, PoolLayer, PReLULayer
from mtcnn_core.kernels import blas, openblas, reference

F32 = np.float32
rng = np.random.default_rng(42)


def f32(v) -> float:
    """Round an exact value (Fraction/float) to the nearest float32 (ties to even)."""
    return float(np.float32(float(v))) if not isinstance(v, Fraction) else _round_frac(v)


def _round_frac(q: Fraction) -> float:
    d = float(q)  # correctly rounded double
    r = np.float32(d)
    if Fraction(float(r)) == q:
        return float(r)
    lo, hi = (r, np.nextafter(r, F32(np.inf))) if Fraction(float(r)) < q else (np.nextafter(r, F32(-np.inf)), r)
    mid = (Fraction(float(lo)) + Fraction(float(hi))) / 2
    if q < mid:
        return float(lo)
    if q > mid:
        return float(hi)
    return float(lo) if (np.float32(lo).view(np.uint32) & 1) == 0 else float(hi)


def naive_fma(a, b, c) -> float:
    return _round_frac(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)))


def naive_conv(x, w, b, split=None):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    out = np.zeros((n, o, h - kh + 1, wd - kw + 1), F32)
    for bi in range(n):
        for oc in range(o):
            for y in range(h - kh + 1):
                for xx in range(wd - kw + 1):
                    terms = [
                        (x[bi, i, y + r, xx + cc], w[oc, i, r, cc])
                        for i in range(c)
                        for cc in range(kw)
                        for r in range(kh)
                    ]
                    terms.append((1.0, b[oc]))
                    chains = [terms] if split is None else [terms[:split], terms[split:]]
                    sums = []
                    for ch in chains:
                        acc = 0.0
                        for a_, w_ in ch:
                            acc = naive_fma(a_, w_, acc)
                        sums.append(acc)
                    out[bi, oc, y, xx] = F32(sums[0]) if len(sums) == 1 else F32(sums[0]) + F32(sums[1])
    return out


def planar(a):
    """The layers work on planar (C, H, W, N) maps; the naive references are written (N, C, H, W)."""
    return np.ascontiguousarray(a.transpose(1, 2, 3, 0))


def nchw(a):
    return np.ascontiguousarray(a.transpose(3, 0, 1, 2))


def rand(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(F32)


@pytest.mark.parametrize("shape,wshape", [((1, 3, 7, 6), (4, 3, 3, 3)), ((3, 2, 5, 5), (5, 2, 2, 2))])
def test_conv_exact_equals_naive_chain(shape, wshape):
    x, w, b = rand(*shape), rand(*wshape, scale=0.3), rand(wshape[0])
    want = naive_conv(x, w, b)
    got = nchw(reference.conv(planar(x), w, b))
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


def test_conv_exact_split_chain_equals_naive():
    # K+1 = 577 like ONet conv3: two chains [0, 288) and [288, 577) added in float32
    x, w, b = rand(1, 64, 3, 3), rand(2, 64, 3, 3, scale=0.1), rand(2)
    assert openblas.k_blocks(577).tolist() == [[0, 288], [288, 577]]
    want = naive_conv(x, w, b, split=288)
    got = nchw(reference.conv(planar(x), w, b))
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


def test_conv_blas_is_close_to_exact():
    x, w, b = planar(rand(2, 3, 9, 8)), rand(6, 3, 3, 3), rand(6)
    np.testing.assert_allclose(blas.conv(x, w, b), reference.conv(x, w, b), rtol=1e-5, atol=1e-5)


def midpoint_case():
    """acc = 1+2^-23, p = 2^-24 - 2^-70: f64 sum is the float32 midpoint, exact is just below."""
    a = F32(2.0**-24 * (1 + 2.0**-23))
    b = F32(1 - 2.0**-23)
    c = F32(1 + 2.0**-23)
    return a, b, c


def test_fma32_corrects_double_rounding_midpoints():
    a, b, c = midpoint_case()
    naive_double = F32(float(a) * float(b) + float(c))
    assert naive_double != F32(naive_fma(a, b, c))  # the trap is real
    assert reference.fma32(a, b, c) == F32(naive_fma(a, b, c))
    # mirrored and random cases
    aa = np.concatenate([[a, -a], rand(2000)]).astype(F32)
    bb = np.concatenate([[b, b], rand(2000)]).astype(F32)
    cc = np.concatenate([[c, -c], rand(2000)]).astype(F32)
    want = np.array([naive_fma(*t) for t in zip(aa, bb, cc)], F32)
    assert np.array_equal(reference.fma32(aa, bb, cc).view(np.uint32), want.view(np.uint32))


def test_chain_hits_and_corrects_a_midpoint():
    a, b, c = midpoint_case()
    rows = np.array([[c, a], [c, -a]], F32)  # term 0: c*1 ; term 1: a*b
    wm = np.array([[1.0], [b], [0.0]], F32)  # last row = bias
    cols = np.concatenate([rows.T, np.ones((1, 2), F32)]).astype(np.float64)
    got = reference.gemm_chain(cols, wm.astype(np.float64))[0]
    want = [naive_fma(0.0, 1.0, naive_fma(r[1], b, naive_fma(r[0], 1.0, 0.0))) for r in rows]
    assert np.array_equal(got, np.array(want, F32))


def test_fc_lanes_equals_naive():
    v, w, b = rand(3, 40), rand(5, 40, scale=0.2), rand(5)
    got = reference.fc_lanes(v, w, b)
    for n in range(3):
        for o in range(5):
            lanes = []
            for lane in range(16):
                acc = 0.0
                for k in range(lane, 40, 16):
                    acc = naive_fma(v[n, k], w[o, k], acc)
                lanes.append(F32(acc))
            while len(lanes) > 1:
                lanes = [F32(lanes[i] + lanes[i + 1]) for i in range(0, len(lanes), 2)]
            assert got[n, o] == F32(lanes[0] + b[o])


@pytest.mark.parametrize("bias_in_double", [True, False])
def test_fc_double_seq_equals_naive(bias_in_double):
    v, w, b = rand(4, 33), rand(6, 33), rand(6)
    got = reference.fc_double_seq(v, w, b, bias_in_double)
    for n in range(4):
        for o in range(6):
            s = 0.0
            for k in range(33):
                s += float(v[n, k]) * float(w[o, k])
            want = F32(s + float(b[o])) if bias_in_double else F32(F32(s) + b[o])
            assert got[n, o] == want


def naive_prelu_bits(v, slope):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.float32(v if v >= 0 else F32(v * slope)).view(np.uint32)


@pytest.mark.parametrize("slopes", [[0.3, -0.7, 1.0], [1.0, 1.5, 3.0], [-1.2, 0.2, 1.3], [0.0, -0.0, 0.5]])
def test_prelu_equals_naive(slopes):
    # slopes below, above and on both sides of 1 and zero, with signed zeros (x >= 0 keeps x's
    # bits) and tiny negatives whose product underflows to a signed zero
    x, s = rand(3, 2, 4, 4), np.array(slopes, F32)
    x[:, 0, 0, 0] = [0.0, -0.0, 0.0]
    x[:, 0, 0, 1] = [-0.0, 0.0, -0.0]
    x[:, 1, 3, 3] = [-1e-45, -1e-45, -1e-45]
    x[:, 1, 3, 2] = [1e-45, -3e38, 3e38]
    x[:, 1, 2, 2] = [np.inf, -np.inf, np.inf]
    x[:, 1, 2, 1] = [-np.inf, np.inf, -np.inf]
    got = layers.prelu(x, PReLULayer(s))  # maps: one slope per plane (axis 0)
    for idx in np.ndindex(x.shape):
        assert got[idx].view(np.uint32) == naive_prelu_bits(x[idx], s[idx[0]]), (idx, x[idx])
    v = x.reshape(3, -1).T.copy()  # vectors: one slope per feature (axis 1)
    got = layers.prelu(v, PReLULayer(s))
    for idx in np.ndindex(v.shape):
        assert got[idx].view(np.uint32) == naive_prelu_bits(v[idx], s[idx[1]]), (idx, v[idx])


@pytest.mark.parametrize("size,k,s", [(7, 3, 2), (22, 3, 2), (10, 2, 2), (9, 3, 2), (5, 2, 2)])
def test_maxpool_equals_naive_with_partial_windows(size, k, s):
    x = rand(2, 3, size, size + 1)
    got = nchw(layers.maxpool(planar(x), PoolLayer(k, k, s, s)))
    oh = int(math.floor(abs((size - k) / s) + 0.5)) + 1
    ow = int(math.floor(abs((size + 1 - k) / s) + 0.5)) + 1
    assert got.shape == (2, 3, oh, ow)
    for n, c, i, j in np.ndindex(got.shape):
        win = x[n, c, i * s : min(i * s + k, size), j * s : min(j * s + k, size + 1)]
        assert got[n, c, i, j] == win.max()


def test_fc_flattening_order_for_rnet_onet():
    x = rand(2, 4, 3, 3)
    w, b = rand(6, 36), rand(6)
    got = layers.fully_connected(planar(x), FCLayer(w, b), "exact")
    for n in range(2):
        v = [x[n, c, yy, xx] for c in range(4) for xx in range(3) for yy in range(3)]  # (C, W, H)
        for o in range(6):
            s = sum(float(vi) * float(w[o, i]) for i, vi in enumerate(v))  # sequential double
            assert got[n, o] == F32(s + float(b[o]))


def test_compiled_cv_exp_steps_equal_the_numpy_fma(monkeypatch):
    """cv_exp32's polynomial steps run compiled when numba is there: the same bits as the numpy
    FMA emulation on 100k values over the whole clamp range, signed zeros and infinities."""
    from mtcnn_core.kernels import reference

    x = np.concatenate([rand(100_000, scale=40), [0, -0.0, 88.7, -103.9, 1e30, -1e30, np.inf, -np.inf]])
    x = x.astype(F32).reshape(-1, 8)  # 2-D, as PNet's maps
    got = cvmath.cv_exp32(x)
    monkeypatch.setattr(cvmath, "_fma_step", reference.fma32)
    want = cvmath.cv_exp32(x)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


def test_sigmoid_and_cv_exp_match_scalar_formula():
    x = np.concatenate([rand(500, scale=8), [0, -0.0, 88.0, -88.0, 200, -200]]).astype(F32)
    got = cvmath.cv_exp32(x)
    a0 = 0.009670371139572337719125840413672004409288
    coefs = [
        F32(c / a0)
        for c in (
            0.05550339366753125211915322047004666939128,
            0.2402265109513301490103372422686535526573,
            0.6931471805521448196800669615864773144641,
            1.000000000000002438532970795181890933776,
        )
    ]
    lim = F32(3000 / 1.4426950408889634073599246810019)
    for xi, gi in zip(x, got):
        v = min(max(xi, -lim), lim)
        t = F32(v * F32(64 * 1.4426950408889634073599246810019))
        n = int(np.rint(t))
        f = F32(F32(t - F32(n)) * F32(1 / 64))
        e = min(max((n >> 6) + 127, 0), 255)
        y = F32(F32(2.0 ** ((n & 63) / 64) * a0) * np.array([e << 23], np.uint32).view(F32)[0])
        p = F32(f + coefs[0])
        for c in coefs[1:]:
            p = F32(naive_fma(p, f, c))
        assert np.float32(p * y).view(np.uint32) == gi.view(np.uint32), xi
    np.testing.assert_allclose(layers.sigmoid(x[:500]), 1 / (1 + np.exp(-x[:500].astype(float))), rtol=1e-5)


@pytest.mark.skipif(
    ctypes.util.find_library("m") is None or "glibc" not in " ".join(__import__("platform").libc_ver()),
    reason="needs glibc's libm to compare against",
)
def test_glibc_expf_matches_the_host_libm():
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    libm.expf.restype, libm.expf.argtypes = ctypes.c_float, [ctypes.c_float]
    x = np.concatenate([rng.uniform(-30, 30, 20000), [1.0693289, 88.7, -103.9]]).astype(F32)
    want = np.array([libm.expf(float(v)) for v in x], F32)
    assert np.array_equal(cvmath.glibc_expf(x).view(np.uint32), want.view(np.uint32))


# ---- NMS -------------------------------------------------------------------------------------
def naive_nms(boxes, scores, threshold, mode):
    """The C++ loop: walk the multimap (score, index) from its end; drop boxes overlapping the
    picked one by more than f32(threshold), overlap computed in float32 on rne int rects."""
    rects = [[int(np.rint(float(v))) for v in b] for b in boxes]
    pending = sorted(range(len(boxes)), key=lambda i: (scores[i], i), reverse=True)
    kept, by = [], {}
    while pending:
        i = pending.pop(0)
        kept.append(i)
        x, y, w, h = rects[i]
        rest = []
        for j in pending:
            u, v, ww, hh = rects[j]
            iw = min(x + w, u + ww) - max(x, u)
            ih = min(y + h, v + hh) - max(y, v)
            inter = F32(iw * ih if iw > 0 and ih > 0 and min(w, h, ww, hh) > 0 else 0)
            if mode == "min":
                denom = F32(min(w * h, ww * hh))
            else:
                denom = F32(F32(w * h + ww * hh) - inter)
            with np.errstate(divide="ignore", invalid="ignore"):
                o = F32(inter / denom)
            if o > F32(threshold):
                by[j] = i
            else:
                rest.append(j)
        pending = rest
    return kept, by


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize(
    "n,mode,thr", [(40, "iou", 0.5), (700, "iou", 0.7), (600, "min", 0.7), (300, "iou", 0.0), (5, "min", 1.0)]
)
def test_nms_equals_the_cpp_loop(n, mode, thr, compiled):
    # clustered boxes (many overlaps), fractional coordinates (rne rounding, ties at .5),
    # repeated scores (the multimap's index order), some empty boxes; n > NMS_BLOCK crosses blocks
    from mtcnn_core import boxes as B

    centres = rng.uniform(0, 400, (max(n // 8, 1), 2))
    c = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 8, (n, 2))
    wh = rng.uniform(5, 60, (n, 2))
    boxes = np.concatenate([c, wh], axis=1).astype(F32)
    boxes[::7, :2] = np.floor(boxes[::7, :2]) + 0.5
    boxes[::23, 2] = 0
    scores = rng.choice(np.linspace(0.5, 1, 17), n).astype(F32)
    order, by = B.nms(boxes, scores, thr, mode, compiled=compiled)
    kept, want_by = naive_nms(boxes, scores, thr, mode)
    assert order.tolist() == kept
    assert {j: int(by[j]) for j in np.flatnonzero(by >= 0)} == want_by
    assert by[order].tolist() == [-1] * len(order)


# ---- pyramid levels ----------------------------------------------------------------------------
def naive_resize(img, width, height):
    """cv::resize INTER_LINEAR on float32 (semantics 6.4), one output value at a time: float
    source coordinate per axis, left tap weight 0 left of the image, last column copied at the
    right edge, rows clamped with the weight kept; horizontal pass first, float32 arithmetic."""
    h, w = img.shape[:2]

    def taps(dst, src):
        scale = 1.0 / (dst / src)
        out = []
        for i in range(dst):
            f = F32((i + 0.5) * scale - 0.5)
            i0 = math.floor(f)
            out.append((i0, F32(f - F32(i0))))
        return out

    src = img.astype(F32)
    one = F32(1)
    row_cache = {}

    def hrow(r):
        if r not in row_cache:
            line = np.empty((width, img.shape[2]), F32)
            for x, (i0, fr) in enumerate(taps(width, w)):
                if i0 < 0:
                    i0, fr = 0, F32(0)
                if i0 >= w - 1:
                    line[x] = src[r, w - 1]
                else:
                    line[x] = src[r, i0] * (one - fr) + src[r, i0 + 1] * fr
            row_cache[r] = line
        return row_cache[r]

    out = np.empty((height, width, img.shape[2]), F32)
    for y, (i0, fr) in enumerate(taps(height, h)):
        a, b = min(max(i0, 0), h - 1), min(max(i0 + 1, 0), h - 1)
        out[y] = hrow(a) * (one - fr) + hrow(b) * fr
    return out


@pytest.mark.parametrize("w,h", [(23, 15), (12, 12), (40, 30), (31, 23), (5, 40), (62, 3), (16, 11)])
def test_pyramid_resize_equals_the_scalar_rule(w, h):
    # down- and upscales, thin results, a distinct last column (edge copy rule); the planar
    # pyramid path and the interleaved cv_resize must both give these bits
    from mtcnn_core.images import cv_resize, planar_input, resize_planes

    img = np.random.default_rng(w * h).integers(0, 256, (23, 31, 3), dtype=np.uint8)
    img[:, -1] = 255
    want = naive_resize(img, w, h)
    got = cv_resize(img, w, h)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    planes = resize_planes(img, w, h)
    assert planes.shape == (3, h, w)
    assert np.array_equal(planes.view(np.uint32), planar_input(want).view(np.uint32))
