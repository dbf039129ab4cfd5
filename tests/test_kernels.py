"""The compiled kernels against the numpy reference and against a plain scalar transcription of
the C++ rules (libm's fmaf, one call per multiply-add), for both OpenFace builds."""

import ctypes
import ctypes.util

import numpy as np
import pytest
from conftest import IN_CI
from test_layers import midpoint_case, naive_fma

import mtcnn_core as mc
from mtcnn_core import kernels
from mtcnn_core.dat_format import PoolLayer
from mtcnn_core.kernels import Arithmetic, openblas

F32 = np.float32
COMPILED = {b: Arithmetic("exact", b, 1) for b in openblas.BUILDS}
REFERENCE = {b: Arithmetic("reference", b, 1) for b in openblas.BUILDS}
pytestmark = pytest.mark.skipif(kernels.COMPILED_ERROR is not None and not IN_CI, reason="numba unavailable")

_libm = ctypes.CDLL(ctypes.util.find_library("m"))
_libm.fmaf.restype, _libm.fmaf.argtypes = ctypes.c_float, [ctypes.c_float] * 3


def fmaf(a, b, c) -> F32:
    return F32(_libm.fmaf(float(a), float(b), float(c)))


def bits(a):
    return np.ascontiguousarray(a, F32).view(np.uint32)


def same_bits(a, b) -> bool:
    return a.shape == b.shape and np.array_equal(bits(a), bits(b))


# ---- a scalar transcription of semantics 3.2 and 6.8 ------------------------------------------
def naive_calls(n: int) -> list:
    """(call width, position) of each of n GEMM columns (6.8 'Column calls')."""
    out = []
    for c0 in range(0, n, 104512):
        rem, pos = min(104512, n - c0), 0
        while rem - pos >= 12:
            out += [(12, i) for i in range(12)]
            pos += 12
        while rem - pos > 4:
            out += [(4, i) for i in range(4)]
            pos += 4
        out += [(rem - pos, i) for i in range(rem - pos)]
    return out


def naive_is_split(m: int, big_m: int, width: int, pos: int, build: str) -> bool:
    if build == "avx512" or width in (1, 2, 3):
        return False
    panels = big_m // 8
    if width == 4:
        return m < 8 * panels
    if big_m < 16:
        return False
    left = pos < 6
    return (left and m < 8) or (8 * (panels - 1) <= m < 8 * panels and (left if panels % 2 == 0 else not left))


def naive_blocks(k1: int) -> list:
    out, ls = [], 0
    while ls < k1:
        rem = k1 - ls
        step = 320 if rem >= 640 else ((rem // 2 + 7) // 8) * 8 if rem > 320 else rem
        out.append((ls, ls + step))
        ls += step
    return out


def naive_output(terms, split: bool, build: str) -> F32:
    """One GEMM output from its (a, b) terms in j order (bias last, a = 1)."""
    total = None
    for s, e in naive_blocks(len(terms)):
        block = terms[s:e]
        if split:
            f = 8 * (len(block) // 8)
            ev = od = F32(0)
            for i in range(0, f, 2):
                ev = fmaf(*block[i], ev)
                od = fmaf(*block[i + 1], od)
            for t in block[f:]:
                ev = fmaf(*t, ev)
            acc = F32(ev + od)
        else:
            acc = F32(0)
            for t in block:
                acc = fmaf(*t, acc)
        if total is None:
            total = F32(F32(0) + acc) if build == "avx2" else acc
        else:
            total = F32(total + acc)
    return total


def naive_conv(x, w, b, build):
    """x (N, C, H, W), w (O, C, kh, kw) -> (N, O, Ho, Wo): one C++ GEMM call per image."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    ho, wo = h - kh + 1, wd - kw + 1
    calls = naive_calls(ho * wo)
    out = np.zeros((n, o, ho, wo), F32)
    for bi in range(n):
        for y in range(ho):
            for xx in range(wo):
                col = y * wo + xx
                for oc in range(o):
                    terms = [
                        (x[bi, i, y + r, xx + cc], w[oc, i, r, cc])
                        for i in range(c)
                        for cc in range(kw)
                        for r in range(kh)
                    ] + [(F32(1), b[oc])]
                    split = naive_is_split(oc, o, *calls[col], build)
                    out[bi, oc, y, xx] = naive_output(terms, split, build)
    return out


def planar(a):
    return np.ascontiguousarray(a.transpose(1, 2, 3, 0))


def nchw(a):
    return np.ascontiguousarray(a.transpose(3, 0, 1, 2))


rng = np.random.default_rng(7)


def rand(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(F32)


# ---- the build's rules ------------------------------------------------------------------------
def test_column_calls_follow_the_examples_and_restart_per_chunk():
    for n, expect in ((484, [12] * 40 + [4]), (81, [12] * 6 + [4, 4, 1]), (9, [4, 4, 1])):
        calls = naive_calls(n)
        starts = [w for w, p in calls if p == 0]
        assert starts == expect
    n = 104512 + 30
    codes = openblas.column_codes(n)
    assert [int(c) for c in codes] == [code_of(*wp) for wp in naive_calls(n)]
    assert (codes[104508:104512] == openblas.WIDTH4).all()  # 104512 = 8709*12 + 4
    assert (codes[104512:104518] == openblas.WIDE_LEFT).all()  # the new chunk restarts
    # the last 30 columns: 12 + 12 + 4 + 2
    assert (codes[-6:-2] == openblas.WIDTH4).all() and (codes[-2:] == openblas.NARROW).all()
    for n in [*range(1, 80), 484, 2116, 104511, 104512, 104513, 2 * 104512 + 9]:
        assert [int(c) for c in openblas.column_codes(n)] == [code_of(*wp) for wp in naive_calls(n)], n


def code_of(width, pos):
    if width == 12:
        return openblas.WIDE_LEFT if pos < 6 else openblas.WIDE_RIGHT
    return openblas.WIDTH4 if width == 4 else openblas.NARROW


@pytest.mark.parametrize("m", [10, 16, 24, 28, 32, 48, 64, 128])
def test_split_table_is_the_rule_for_every_channel_count(m):
    for build in openblas.BUILDS:
        table = openblas.split_table(m, build)
        for ch in range(m):
            for width, pos in ((1, 0), (3, 2), (4, 1), (12, 0), (12, 5), (12, 6), (12, 11)):
                assert bool(table[ch, code_of(width, pos)]) == naive_is_split(ch, m, width, pos, build)


def test_k_blocks_match_the_rule():
    for k1 in (28, 91, 145, 253, 289, 320, 321, 576, 577, 639, 640, 641, 1152, 2000):
        assert openblas.k_blocks(k1).tolist() == [list(b) for b in naive_blocks(k1)]
    assert openblas.k_blocks(577).tolist() == [[0, 288], [288, 577]]
    assert openblas.k_blocks(1152).tolist() == [[0, 320], [320, 640], [640, 896], [896, 1152]]


# ---- conv --------------------------------------------------------------------------------------
@pytest.mark.parametrize("build", openblas.BUILDS)
@pytest.mark.parametrize("c,o,k,side", [(2, 16, 3, 11), (2, 24, 3, 11), (3, 10, 3, 11), (4, 32, 2, 10)])
def test_compiled_conv_equals_the_scalar_rule(build, c, o, k, side):
    # side 11 with a 3x3 kernel: 81 columns per call (6 calls of 12, 4, 4, 1): every class
    x, w, b = rand(2, c, side, side), rand(o, c, k, k, scale=0.3), rand(o)
    want = naive_conv(x, w, b, build)
    got = nchw(kernels.conv(planar(x), w, b, COMPILED[build]))
    assert same_bits(got, want)


@pytest.mark.parametrize("build", openblas.BUILDS)
@pytest.mark.parametrize("c,o", [(7, 16), (3, 24)])
@pytest.mark.parametrize("boxes", [3, 12])
def test_compiled_conv_of_a_box_batch_equals_the_scalar_rule(build, c, o, boxes):
    # 12 boxes: each column class is a run of 6 x 12 = 72 pixels, so the AVX2 build's split
    # outputs take the select-free path; 3 boxes: the alternating panels go to by_channel;
    # c = 7 gives K + 1 = 64, a split range that does not end on a multiple of 8 terms and a
    # bias that is an odd term of the interleaved chains
    x, w, b = rand(boxes, c, 11, 11), rand(o, c, 3, 3, scale=0.3), rand(o)
    want = naive_conv(x, w, b, build)
    got = nchw(kernels.conv(planar(x), w, b, COMPILED[build]))
    assert same_bits(got, want)


@pytest.mark.parametrize("build", openblas.BUILDS)
def test_compiled_conv_with_two_k_blocks_equals_the_scalar_rule(build):
    # ONet conv3's K+1 = 577: blocks [0, 288) + [288, 577); 16 channels so some are split
    x, w, b = rand(1, 64, 5, 5), rand(16, 64, 3, 3, scale=0.1), rand(16)
    want = naive_conv(x, w, b, build)
    got = nchw(kernels.conv(planar(x), w, b, COMPILED[build]))
    assert same_bits(got, want)


def mtcnn_conv_layers():
    m = mc.load_models()
    out = []
    for name, side in (("pnet", 12), ("rnet", 24), ("onet", 48)):
        net = getattr(m, name)
        shapes = [(3, side, side)] + net.shapes(side)
        for i, layer in enumerate(net.layers):
            if layer.kind == "conv":
                out.append(pytest.param(layer, shapes[i], id=f"{name}-{i}"))
    return out


@pytest.mark.parametrize("build", openblas.BUILDS)
@pytest.mark.parametrize("layer,shape", mtcnn_conv_layers())
def test_compiled_conv_equals_reference_on_every_mtcnn_layer_shape(build, layer, shape):
    c, h, w = shape
    for n in (1, 3, 37):
        x = rand(c, h, w, n)
        x[0, 0, 0, :] = -0.0  # signed zeros among the inputs
        want = kernels.conv(x, layer.weight, layer.bias, REFERENCE[build])
        got = kernels.conv(x, layer.weight, layer.bias, COMPILED[build])
        assert same_bits(got, want), (n, int((bits(got) != bits(want)).sum()))


@pytest.mark.parametrize("build", openblas.BUILDS)
def test_pnet_level_wider_than_one_gemm_chunk(build):
    # 330 x 330 = 108,900 output columns: the Haswell kernel restarts its call widths at 104,512
    m = mc.load_models().pnet
    layer = m.layers[3]  # conv 10 -> 16, 3x3
    x = rand(10, 332, 332, 1)
    got = kernels.conv(x, layer.weight, layer.bias, COMPILED[build])
    want = kernels.conv(x, layer.weight, layer.bias, REFERENCE[build])
    assert same_bits(got, want)


def test_the_chunk_restart_changes_avx2_bits(monkeypatch):
    m = mc.load_models().pnet
    layer = m.layers[3]
    x = rand(10, 332, 332, 1)
    chunked = kernels.conv(x, layer.weight, layer.bias, COMPILED["avx2"])
    monkeypatch.setattr(openblas, "GEMM_R", 10**9)
    openblas.column_codes.cache_clear()
    try:
        unchunked = kernels.conv(x, layer.weight, layer.bias, COMPILED["avx2"])
    finally:
        openblas.column_codes.cache_clear()
    flat_c, flat_u = chunked.reshape(16, -1), unchunked.reshape(16, -1)
    assert same_bits(flat_c[:, :104508], flat_u[:, :104508])
    assert not same_bits(flat_c[:, 104508:], flat_u[:, 104508:])


@pytest.mark.parametrize("build", openblas.BUILDS)
def test_chain_midpoints_and_signed_zeros_equal_exact_fma(build):
    # a 1x1 conv over 2 channels: term 0 = c*1, term 1 = a*b lands the float64 sum exactly on a
    # float32 midpoint (double rounding would be wrong); then +-0 inputs and a -0 bias
    a, b, c = midpoint_case()
    x = np.array([[c, c, -0.0, 0.0], [a, -a, -0.0, -0.0]], F32).reshape(2, 1, 1, 4)
    w = np.array([[[[1.0]], [[b]]]], F32)
    for bias in (F32(0), F32(-0.0)):
        got = kernels.conv(x, w, np.array([bias]), COMPILED[build]).reshape(-1)
        want = [
            naive_output([(x[0, 0, 0, i], F32(1)), (x[1, 0, 0, i], b), (F32(1), bias)], False, build) for i in range(4)
        ]
        assert same_bits(got, np.array(want, F32))
        assert got[0] == F32(naive_fma(a, b, c))


@pytest.mark.parametrize("threads", [2, 3, 5])
def test_results_do_not_depend_on_threads_or_batch(threads):
    layer = mc.load_models().onet.layers[3]  # conv 32 -> 64
    x = rand(32, 23, 23, 20)
    for build in openblas.BUILDS:
        one = kernels.conv(x, layer.weight, layer.bias, COMPILED[build])
        many = kernels.conv(x, layer.weight, layer.bias, Arithmetic("exact", build, threads))
        assert same_bits(one, many)
        single = np.concatenate(
            [
                kernels.conv(np.ascontiguousarray(x[..., i : i + 1]), layer.weight, layer.bias, COMPILED[build])
                for i in range(20)
            ],
            axis=3,
        )
        assert same_bits(one, single)


def test_fused_prelu_equals_conv_then_prelu():
    from mtcnn_core import layers

    net = mc.load_models().rnet
    conv, prelu = net.layers[0], net.layers[1]
    x = rand(3, 24, 24, 9)
    fused = layers.conv(x, conv, COMPILED["avx512"], prelu)
    apart = layers.prelu(kernels.conv(x, conv.weight, conv.bias, COMPILED["avx512"]), prelu)
    assert same_bits(fused, apart)


# ---- fully connected and pooling ---------------------------------------------------------------
@pytest.mark.parametrize("build", openblas.BUILDS)
@pytest.mark.parametrize("k,o,n", [(576, 128, 1), (1152, 256, 5), (576, 128, 70), (40, 100, 3)])
def test_compiled_fc1_equals_reference(build, k, o, n):
    cols, w, b = rand(k, n), rand(o, k, scale=0.05), rand(o)
    cols[0, 0] = -0.0
    got = kernels.fc("fc1", cols, w, b, COMPILED[build])
    want = kernels.fc("fc1", cols, w, b, REFERENCE[build])
    assert same_bits(got, want)


@pytest.mark.parametrize("build", openblas.BUILDS)
def test_compiled_fc1_equals_the_scalar_rule(build):
    k, o = 1152, 3
    cols, w, b = rand(k, 2), rand(o, k, scale=0.05), rand(o)
    got = kernels.fc("fc1", cols, w, b, COMPILED[build])
    for n in range(2):
        for oc in range(o):
            if build == "avx512":
                lanes = []
                for lane in range(16):
                    acc = F32(0)
                    for kk in range(lane, k, 16):
                        acc = fmaf(cols[kk, n], w[oc, kk], acc)
                    lanes.append(acc)
                while len(lanes) > 1:
                    lanes = [F32(lanes[i] + lanes[i + 1]) for i in range(0, len(lanes), 2)]
                want = F32(lanes[0] + b[oc])
            else:
                want = b[oc]
                for s, e in naive_blocks(k):
                    acc = F32(0)
                    for kk in range(s, e):
                        acc = fmaf(cols[kk, n], w[oc, kk], acc)
                    want = F32(want + acc)
            assert bits(got[oc, n]) == bits(want)


@pytest.mark.parametrize("kind", ["fc_seq_bias_float", "fc_seq_bias_double"])
def test_compiled_double_sum_fc_equals_reference(kind):
    cols, w, b = rand(32, 500), rand(6, 32), rand(6)
    got = kernels.fc(kind, cols, w, b, COMPILED["avx512"])
    want = kernels.fc(kind, cols, w, b, REFERENCE["avx512"])
    assert same_bits(got, want)


@pytest.mark.parametrize("size,k,s,n", [(22, 3, 2, 64), (23, 3, 2, 3), (10, 2, 2, 1), (9, 3, 2, 5), (46, 3, 2, 32)])
def test_compiled_maxpool_is_the_cpp_rule(size, k, s, n):
    from mtcnn_core import layers

    x = rand(4, size, size + 1, n)
    x[0, 0, :3] = np.nan  # NaN is never taken (strict '>')
    x[1, :3, :3] = -np.inf  # a window of -inf gives -FLT_MAX
    x[2, 1, 1] = np.inf
    layer = PoolLayer(k, k, s, s)
    got = layers.maxpool(x, layer, COMPILED["avx512"])
    numpy_path = layers.maxpool(x, layer, REFERENCE["avx512"])
    assert same_bits(got, numpy_path)
    lowest = -np.finfo(F32).max
    for c, i, j, b in np.ndindex(got.shape):
        m = lowest
        for r in range(i * s, min(i * s + k, size)):
            for cc in range(j * s, min(j * s + k, size + 1)):
                if x[c, r, cc, b] > m:
                    m = x[c, r, cc, b]
        assert bits(got[c, i, j, b]) == bits(F32(m))


@pytest.mark.parametrize("size", [24, 48])
def test_compiled_crops_equal_the_numpy_crops(size):
    # boxes inside, across every edge, wholly outside, empty and 1 px, up to 4x the crop size
    from mtcnn_core import boxes as B

    img = (
        mc.load_image(mc.BUNDLED_DIR.parent / "sample_images" / "faces_at_scales.png")
        if (mc.BUNDLED_DIR.parent / "sample_images").is_dir()
        else rng.integers(0, 256, (300, 400, 3), np.uint8)
    )
    h, w = img.shape[:2]
    xy = rng.integers(-80, max(w, h) + 20, (400, 2))
    side = rng.integers(0, 4 * size, (400, 1))
    squares = np.concatenate([xy, side, side], axis=1).astype(F32)
    got = B.crop_batch(img, squares, size, planar=True)
    want = B.crop_batch(img, squares, size, planar=True, compiled_crops=False)
    assert same_bits(got, want)


def test_compiled_pyramid_resize_equals_the_numpy_resize():
    """Every level size of a real photo's pyramid (min face 12), and random images at down- and
    up-scales down to 1 px: the compiled resize gives the numpy passes' bits."""
    from mtcnn_core import images, scales

    photo = mc.load_image(next((mc.BUNDLED_DIR.parent / "sample_images").glob("*.jpg")))
    h, w = photo.shape[:2]
    for level in scales.pyramid(h, w, 12, 0.709):
        lw, lh = level[2], level[1]
        if (lh, lw) == (h, w) or images._is_exact_half(w, h, lw, lh):
            continue
        got = images.resize_planes(photo, lw, lh)
        assert same_bits(got, images.resize_planes(photo, lw, lh, compiled=False)), (lw, lh)
    for _ in range(60):
        sh, sw, dh, dw = (int(v) for v in rng.integers(1, 90, 4))
        img = rng.integers(0, 256, (sh, sw, 3), np.uint8)
        if (sh, sw) == (dh, dw) or images._is_exact_half(sw, sh, dw, dh):
            continue
        got = images.resize_planes(img, dw, dh)
        assert same_bits(got, images.resize_planes(img, dw, dh, compiled=False)), (sh, sw, dh, dw)


def test_warm_up_prepares_every_kernel_a_detection_uses():
    """After kernels.warm_up() a real detection (both builds, 2 threads) compiles nothing more:
    warm_up calls each kernel with the argument types the detector gives it. In a fresh process,
    so that no earlier test has compiled anything."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = """
import json, sys
sys.path.insert(0, sys.argv[1])
import cv2, numba
import mtcnn_core as mc
from mtcnn_core.kernels import by_channel, compiled, warm_up
warm_up()
kernels = {
    f"{m.__name__}.{n}": f
    for m in (compiled, by_channel)
    for n, f in vars(m).items()
    if isinstance(f, numba.core.registry.CPUDispatcher)
}
before = {n: len(f.signatures) for n, f in kernels.items()}
image = cv2.imread(sys.argv[2])
for build in ("avx512", "avx2"):
    mc.detect(image, cpp_build=build, threads=2, cache=False)
print(json.dumps({"before": before, "after": {n: len(f.signatures) for n, f in kernels.items()}}))
"""
    image = root / "sample_images" / "faces_at_scales.png"
    p = subprocess.run(
        [sys.executable, "-c", code, str(root), str(image)], capture_output=True, text=True, timeout=600, cwd=root
    )
    assert p.returncode == 0, p.stderr[-2000:]
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert res["after"] == res["before"], res
    sigs = {name.rsplit(".", 1)[1]: count for name, count in res["before"].items()}
    assert sigs["conv_span"] == 1 and sigs["conv_rows"] == 1 and sigs["crop_bilinear"] == 1


def test_cached_kernels_are_dropped_when_a_sibling_source_changes(tmp_path):
    """numba checks a cached kernel against its own file only; conv_span inlines by_channel, so
    the cache guard must drop it when by_channel's source changes (and only then)."""
    import types

    from mtcnn_core.kernels.cache_guard import drop_stale

    cache = tmp_path / "cache"
    cache.mkdir()
    mods = []
    for name in ("compiled", "by_channel"):
        src = tmp_path / f"{name}.py"
        src.write_text(f"# {name}\n")
        mod = types.ModuleType(f"pkg.{name}")
        mod.__file__ = str(src)
        mods.append(mod)
    kernels_files = [
        "compiled.conv_span-412.py311.nbi",
        "compiled.conv_span-412.py311.1.nbc",
        "by_channel._block-9.py311.nbi",
    ]

    def fill():
        for f in kernels_files + ["reference.other-3.py311.nbi"]:
            (cache / f).write_bytes(b"x")

    fill()
    assert drop_stale(str(cache), mods)  # no marker yet: every kernel of the modules goes
    assert sorted(p.name for p in cache.glob("*.nb*")) == ["reference.other-3.py311.nbi"]
    fill()
    assert not drop_stale(str(cache), mods)  # same sources: the cache is kept
    assert len(list(cache.glob("*.nb*"))) == 4
    (tmp_path / "by_channel.py").write_text("# by_channel, edited\n")
    assert drop_stale(str(cache), mods)
    assert sorted(p.name for p in cache.glob("*.nb*")) == ["reference.other-3.py311.nbi"]
