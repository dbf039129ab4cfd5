"""OpenFace's binary `.dat` CNN format (semantics 1.2-1.3) and the `MTCNN_detector.txt` index (1.1).

Reading never trusts a size field: every count is checked against the bytes that remain before
anything is allocated, so a corrupt file fails fast with a `ModelFormatError` naming the offset.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ModelFormatError

CV_32F = 5
CONV, MAXPOOL, FC, PRELU, SIGMOID = 0, 1, 2, 3, 4
LAYER_NAMES = {CONV: "conv", MAXPOOL: "maxpool", FC: "fc", PRELU: "prelu", SIGMOID: "sigmoid"}
NETWORK_NAMES = ("PNet", "RNet", "ONet")


@dataclass(frozen=True, eq=False)
class ConvLayer:
    """Valid, stride-1 convolution. weight: (n_out, n_in, kh, kw) float32 as stored (PyTorch layout)."""

    weight: np.ndarray
    bias: np.ndarray  # (n_out,) float32
    kind: str = field(default="conv", init=False)


@dataclass(frozen=True, eq=False)
class PoolLayer:
    """Max pooling with kernel (kx, ky) and stride (sx, sy)."""

    kx: int
    ky: int
    sx: int
    sy: int
    kind: str = field(default="maxpool", init=False)


@dataclass(frozen=True, eq=False)
class FCLayer:
    """Fully connected. weight: (n_out, n_in) float32 (the C++'s transpose of the stored in x out)."""

    weight: np.ndarray
    bias: np.ndarray  # (n_out,) float32
    bias_shape: tuple = None  # the stored matrix shape, kept so a file round-trips byte for byte
    kind: str = field(default="fc", init=False)


@dataclass(frozen=True, eq=False)
class PReLULayer:
    """Parametric ReLU with one slope per channel (or per element after fc1)."""

    slope: np.ndarray  # (n,) float32
    slope_shape: tuple = None
    kind: str = field(default="prelu", init=False)


@dataclass(frozen=True, eq=False)
class SigmoidLayer:
    """Element-wise logistic function (supported by the C++ loader, unused by MTCNN)."""

    kind: str = field(default="sigmoid", init=False)


class _Cursor:
    """Bounds-checked little-endian reader over the bytes of one file."""

    def __init__(self, data: bytes, path):
        self.data, self.pos, self.path = memoryview(data), 0, path

    def fail(self, problem, offset=None):
        raise ModelFormatError(self.path, self.pos if offset is None else offset, problem)

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def int32(self, what: str) -> int:
        if self.remaining() < 4:
            self.fail(f"truncated: expected int32 {what}, {self.remaining()} bytes left")
        (v,) = struct.unpack_from("<i", self.data, self.pos)
        self.pos += 4
        return v

    def count(self, what: str, unit_bytes: int) -> int:
        """An int32 count that must be positive and whose payload must fit in the rest of the file."""
        at = self.pos
        n = self.int32(what)
        if n <= 0:
            self.fail(f"{what} is {n}, must be positive", at)
        if n * unit_bytes > self.remaining():
            self.fail(f"{what} = {n} needs at least {n * unit_bytes} bytes, only {self.remaining()} remain", at)
        return n

    def floats(self, n: int, what: str) -> np.ndarray:
        if n * 4 > self.remaining():
            self.fail(f"truncated: {what} needs {n * 4} bytes, {self.remaining()} left")
        out = np.frombuffer(self.data, dtype="<f4", count=n, offset=self.pos).astype(np.float32)
        self.pos += n * 4
        return out

    def matrix(self, what: str) -> np.ndarray:
        """One `rows, cols, type` record and its float32 payload, as a (rows, cols) array."""
        at = self.pos
        if self.remaining() < 12:
            self.fail(f"truncated: {what} matrix header needs 12 bytes, {self.remaining()} left")
        rows, cols, mtype = struct.unpack_from("<iii", self.data, self.pos)
        if mtype != CV_32F:
            self.fail(f"{what} matrix type is {mtype}, not CV_32F ({CV_32F})", at)
        if rows < 0 or cols < 0:
            self.fail(f"{what} matrix has negative size {rows}x{cols}", at)
        if rows * cols * 4 > self.remaining() - 12:
            self.fail(
                f"{what} matrix {rows}x{cols} needs {rows * cols * 4} bytes, only {self.remaining() - 12} remain", at
            )
        self.pos += 12
        return self.floats(rows * cols, what).reshape(rows, cols)


def _read_conv(cur: _Cursor) -> ConvLayer:
    n_in = cur.count("conv input channel count", 0)
    n_out = cur.count("conv output channel count", 4)
    bias = cur.floats(n_out, "conv biases")
    n_kernels = n_in * n_out
    if n_kernels * 12 > cur.remaining():
        cur.fail(f"conv {n_in}x{n_out} kernels need at least {n_kernels * 12} bytes, only {cur.remaining()} remain")
    first_at = cur.pos
    first = cur.matrix("conv kernel [0][0]")
    kh, kw = first.shape
    if kh == 0 or kw == 0:
        cur.fail(f"conv kernel is empty ({kh}x{kw})", first_at)
    record = 12 + kh * kw * 4
    if (n_kernels - 1) * record > cur.remaining():
        cur.fail(
            f"conv {n_in}x{n_out} kernels of {kh}x{kw} need {n_kernels * record} bytes, "
            f"only {cur.remaining() + record} remain",
            first_at,
        )
    cur.pos = first_at
    dtype = np.dtype([("rows", "<i4"), ("cols", "<i4"), ("type", "<i4"), ("v", "<f4", (kh, kw))])
    recs = np.frombuffer(cur.data, dtype=dtype, count=n_kernels, offset=cur.pos)
    bad = np.flatnonzero((recs["rows"] != kh) | (recs["cols"] != kw) | (recs["type"] != CV_32F))
    if bad.size:
        i = int(bad[0])
        cur.fail(
            f"conv kernel [{i // n_out}][{i % n_out}] is {recs['rows'][i]}x{recs['cols'][i]} "
            f"type {recs['type'][i]}, inconsistent with the first kernel {kh}x{kw} CV_32F",
            cur.pos + i * record,
        )
    cur.pos += n_kernels * record
    # Stored order is for in: for out: K[in][out]; keep PyTorch's (out, in, kh, kw).
    weight = recs["v"].reshape(n_in, n_out, kh, kw).transpose(1, 0, 2, 3).astype(np.float32)
    return ConvLayer(np.ascontiguousarray(weight), bias)


def _vector(mat: np.ndarray, cur: _Cursor, what: str, at: int) -> np.ndarray:
    if min(mat.shape) != 1 and mat.size != 0:
        cur.fail(f"{what} must be a N x 1 matrix, got {mat.shape[0]}x{mat.shape[1]}", at)
    if mat.size == 0:
        cur.fail(f"{what} is empty", at)
    return mat.reshape(-1).copy()


def _read_fc(cur: _Cursor) -> FCLayer:
    at = cur.pos
    bias_m = cur.matrix("fc bias")
    bias = _vector(bias_m, cur, "fc bias", at)
    at_w = cur.pos
    w = cur.matrix("fc weight")
    if w.shape[1] != bias.size:
        cur.fail(f"fc weight is {w.shape[0]}x{w.shape[1]} (in x out) but the bias has {bias.size} entries", at_w)
    if w.shape[0] == 0:
        cur.fail("fc weight has no input features", at_w)
    return FCLayer(np.ascontiguousarray(w.T), bias, bias_shape=bias_m.shape)


def _read_layer(cur: _Cursor, index: int):
    at = cur.pos
    kind = cur.int32(f"type of layer {index}")
    if kind == CONV:
        return _read_conv(cur)
    if kind == MAXPOOL:
        kx, ky, sx, sy = (cur.int32(f"maxpool {n}") for n in ("kx", "ky", "sx", "sy"))
        if min(kx, ky, sx, sy) <= 0:
            cur.fail(f"maxpool kernel/stride must be positive, got {kx},{ky},{sx},{sy}", at + 4)
        return PoolLayer(kx, ky, sx, sy)
    if kind == FC:
        return _read_fc(cur)
    if kind == PRELU:
        m = cur.matrix("prelu slopes")
        return PReLULayer(_vector(m, cur, "prelu slopes", at + 4), slope_shape=m.shape)
    if kind == SIGMOID:
        return SigmoidLayer()
    cur.fail(f"unknown layer type {kind} for layer {index} (expected 0-4)", at)


def parse_dat(data: bytes, path="<bytes>") -> list:
    """Parse the bytes of one `.dat` file into a list of layer objects."""
    cur = _Cursor(bytes(data), path)
    n_layers = cur.count("layer count", 4)
    layers = [_read_layer(cur, i) for i in range(n_layers)]
    if cur.remaining():
        cur.fail(f"{cur.remaining()} bytes of trailing garbage after the last layer")
    return layers


def read_dat(path) -> list:
    """Read a `.dat` file from disk (see `parse_dat`)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ModelFormatError(path, None, f"cannot read file: {e.strerror or e}") from None
    return parse_dat(data, path)


def _matrix_bytes(m: np.ndarray) -> bytes:
    m = np.asarray(m, dtype="<f4")
    return struct.pack("<iii", m.shape[0], m.shape[1], CV_32F) + m.tobytes()


def write_dat(layers) -> bytes:
    """Serialise layers into `.dat` bytes; `parse_dat(write_dat(x))` round-trips exactly."""
    out = [struct.pack("<i", len(layers))]
    for layer in layers:
        if layer.kind == "conv":
            n_out, n_in = layer.weight.shape[:2]
            out.append(struct.pack("<iii", CONV, n_in, n_out))
            out.append(np.asarray(layer.bias, "<f4").tobytes())
            for i in range(n_in):
                for o in range(n_out):
                    out.append(_matrix_bytes(layer.weight[o, i]))
        elif layer.kind == "maxpool":
            out.append(struct.pack("<iiiii", MAXPOOL, layer.kx, layer.ky, layer.sx, layer.sy))
        elif layer.kind == "fc":
            shape = layer.bias_shape or (layer.bias.size, 1)
            out.append(struct.pack("<i", FC) + _matrix_bytes(layer.bias.reshape(shape)))
            out.append(_matrix_bytes(layer.weight.T))
        elif layer.kind == "prelu":
            shape = layer.slope_shape or (layer.slope.size, 1)
            out.append(struct.pack("<i", PRELU) + _matrix_bytes(layer.slope.reshape(shape)))
        elif layer.kind == "sigmoid":
            out.append(struct.pack("<i", SIGMOID))
        else:
            raise ValueError(f"unknown layer kind {layer.kind!r}")
    return b"".join(out)


def read_detector_index(path) -> dict:
    """Parse `MTCNN_detector.txt`: {'PNet': Path, 'RNet': Path, 'ONet': Path}, all inside its folder.

    Lines are `<Name> <file>`; unknown names are ignored, a trailing CR is stripped, and a path that
    is absolute or leaves the folder is refused.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        raise ModelFormatError(path, None, f"cannot read detector index: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ModelFormatError(path, e.start, "detector index is not UTF-8 text") from None
    folder = path.parent.resolve()
    found = {}
    for lineno, line in enumerate(text.split("\n"), 1):
        parts = line.rstrip("\r").split()
        if len(parts) < 2 or parts[0] not in NETWORK_NAMES:
            continue
        name, rel = parts[0], parts[1]
        target = (folder / rel).resolve()
        if Path(rel).is_absolute() or not target.is_relative_to(folder):
            raise ModelFormatError(
                path,
                None,
                f"line {lineno}: {name} path {rel!r} leaves the "
                "model folder; only relative paths inside it are allowed",
            )
        if not target.is_file():
            raise ModelFormatError(path, None, f"line {lineno}: {name} file {rel!r} does not exist")
        found[name] = target
    missing = [n for n in NETWORK_NAMES if n not in found]
    if missing:
        raise ModelFormatError(path, None, f"detector index names no file for {', '.join(missing)}")
    return found
