"""The `.dat` error contract case by case (semantics 1.2-1.3): every malformed field of every
record kind gives a ModelFormatError naming the byte offset and the problem, never another
exception and never a silently empty or reshaped network; plus a derandomised fuzz of all three nets."""

import struct

import numpy as np
import pytest
from conftest import ROOT

import mtcnn_core as mc
from mtcnn_core.dat_format import CV_32F, parse_dat, write_dat

MODELS = ROOT / "models"
NETS = {n: (MODELS / f"{n}.dat").read_bytes() for n in ("PNet", "RNet", "ONet")}


def i32(*v):
    return struct.pack(f"<{len(v)}i", *v)


def mat(rows, cols, values=None, mtype=CV_32F):
    n = max(rows * cols, 0) if values is None else len(values)
    return i32(rows, cols, mtype) + np.asarray(values if values is not None else np.ones(n), "<f4").tobytes()


def conv(n_in, n_out, kernel: bytes):
    return i32(0, n_in, n_out) + np.zeros(max(n_out, 0), "<f4").tobytes() + kernel


FC_BIAS_2 = mat(2, 1)
CASES = {
    # negative sizes, in each kind of matrix record (offset: the record's header)
    "conv kernel rows": (i32(1) + conv(1, 1, i32(-3, 3, CV_32F)), 20, "negative size -3x3"),
    "conv kernel cols": (i32(1) + conv(1, 1, i32(3, -3, CV_32F)), 20, "negative size 3x-3"),
    "conv kernel both": (i32(1) + conv(1, 1, i32(-2, -2, CV_32F) + b"\0" * 16), 20, "negative size -2x-2"),
    "fc bias": (i32(1, 2) + i32(-1, 1, CV_32F) + b"\0" * 8, 8, "fc bias matrix has negative size"),
    "fc weight": (i32(1, 2) + FC_BIAS_2 + i32(-2, 2, CV_32F) + b"\0" * 16, 28, "fc weight matrix has negative"),
    "prelu slopes": (i32(1, 3) + i32(4, -1, CV_32F) + b"\0" * 16, 8, "prelu slopes matrix has negative"),
    # zero counts and empty records
    "no layers": (i32(0), 0, "layer count is 0, must be positive"),
    "negative layer count": (i32(-5), 0, "layer count is -5"),
    "conv no inputs": (i32(1) + conv(0, 1, mat(3, 3)), 8, "input channel count is 0"),
    "conv no outputs": (i32(1) + conv(1, 0, mat(3, 3)), 12, "output channel count is 0"),
    "conv empty kernel": (i32(1) + conv(1, 1, mat(0, 3)), 20, "conv kernel is empty (0x3)"),
    "fc empty bias": (i32(1, 2) + mat(0, 1) + mat(3, 0), 8, "fc bias is empty"),
    "fc no inputs": (i32(1, 2) + FC_BIAS_2 + mat(0, 2), 28, "fc weight has no input features"),
    "prelu empty": (i32(1, 3) + mat(1, 0), 8, "prelu slopes is empty"),
    "pool zero stride": (i32(1, 1, 2, 2, 0, 2), 8, "maxpool kernel/stride must be positive, got 2,2,0,2"),
    "pool zero kernel": (i32(1, 1, 0, 2, 2, 2), 8, "must be positive, got 0,2,2,2"),
    "pool negative": (i32(1, 1, 2, -2, 2, 2), 8, "must be positive"),
    # other fields
    "matrix type": (i32(1, 3) + mat(2, 1, mtype=6), 8, "prelu slopes matrix type is 6, not CV_32F"),
    "fc bias not a vector": (i32(1, 2) + mat(2, 2) + mat(3, 2), 8, "fc bias must be a N x 1 matrix"),
    "fc weight vs bias": (i32(1, 2) + FC_BIAS_2 + mat(3, 5), 28, "fc weight is 3x5 (in x out) but the bias has 2"),
    "unknown layer": (i32(1, 7), 4, "unknown layer type 7 for layer 0"),
    "count beyond the file": (i32(1_000_000) + i32(4), 0, "layer count = 1000000 needs at least 4000000 bytes"),
    "channels beyond the file": (i32(1, 0, 3, 100_000), 12, "output channel count = 100000 needs"),
    "trailing bytes": (i32(1, 4, 0), 8, "4 bytes of trailing garbage"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_malformed_field_is_a_model_format_error(name):
    data, offset, msg = CASES[name]
    with pytest.raises(mc.ModelFormatError) as e:
        parse_dat(data, "x.dat")
    assert e.value.offset == offset, str(e.value)
    assert msg in e.value.problem, str(e.value)
    assert str(e.value).startswith(f"x.dat at byte {offset}: ")


def test_the_smallest_valid_files_parse():
    assert [type(x).__name__ for x in parse_dat(i32(1, 4))] == ["SigmoidLayer"]
    layers = parse_dat(i32(2, 3) + mat(2, 1, [0.25, 2.0]) + i32(1, 2, 3, 1, 1))
    assert layers[0].slope.tolist() == [0.25, 2.0] and (layers[1].kx, layers[1].ky) == (2, 3)


def test_conv_kernels_are_stored_input_major():
    # stored order: for in: for out: K[in][out]; the layer keeps (out, in, kh, kw)
    n_in, n_out = 2, 3
    kernels = b"".join(mat(1, 2, [10 * i + o, -(10 * i + o)]) for i in range(n_in) for o in range(n_out))
    (layer,) = parse_dat(i32(1) + conv(n_in, n_out, kernels))
    assert layer.weight.shape == (3, 2, 1, 2)
    for o in range(n_out):
        for i in range(n_in):
            assert layer.weight[o, i].tolist() == [[10 * i + o, -(10 * i + o)]]


@pytest.mark.parametrize("net", sorted(NETS))
def test_real_nets_round_trip(net):
    assert write_dat(parse_dat(NETS[net])) == NETS[net]


# ---- derandomised fuzz ---------------------------------------------------------------------------
SPECIAL = [0, -1, -2, 1, 2, 3, 5, 7, -(2**31), 2**31 - 1, 2**20, -(2**20)]


def fuzz_cases(data: bytes, seed: int, n: int):
    """n copies of data, each with one int32-aligned word (mostly in the headers near the start of
    a record) replaced by a special value, or truncated, or with a random byte flipped."""
    rng = np.random.default_rng(seed)
    words = len(data) // 4
    for _ in range(n):
        kind = rng.integers(0, 10)
        buf = bytearray(data)
        if kind < 7:
            w = int(rng.integers(0, min(words, 64))) if kind < 5 else int(rng.integers(0, words))
            buf[4 * w : 4 * w + 4] = struct.pack("<i", SPECIAL[int(rng.integers(0, len(SPECIAL)))])
        elif kind < 9:
            buf = buf[: int(rng.integers(0, len(buf)))]
        else:
            buf[int(rng.integers(0, len(buf)))] ^= 1 << int(rng.integers(0, 8))
        yield bytes(buf)


@pytest.mark.parametrize("net,seed", [("PNet", 1), ("RNet", 2), ("ONet", 3)])
def test_fuzz_gives_layers_or_a_model_format_error(net, seed):
    problems = []
    for data in fuzz_cases(NETS[net], seed, 1500):
        try:
            layers = parse_dat(data, net)
        except mc.ModelFormatError as e:
            assert e.offset is None or 0 <= e.offset <= len(data), str(e)
            problems.append(e.problem)
            continue
        assert layers, "a parse that succeeds returns at least one layer"
    # the fuzz reaches the hard cases, not only truncation
    for wanted in ("negative size", "must be positive", "needs", "trailing garbage", "not CV_32F"):
        assert any(wanted in p for p in problems), wanted
