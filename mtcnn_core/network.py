"""A CNN as OpenFace runs it: a list of layers applied in order, checked for consistent shapes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import layers as L
from .errors import ModelFormatError
from .kernels import Arithmetic, arithmetic

#: Input side and minimum outputs of each MTCNN network.
NET_INPUT = {"PNet": 12, "RNet": 24, "ONet": 48}
NET_MIN_OUTPUTS = {"PNet": 6, "RNet": 6, "ONet": 6}


@dataclass(eq=False)
class Network:
    """One of PNet/RNet/ONet: its layers (dat_format objects) and where they came from."""

    name: str
    layers: list
    path: Path | None = None

    def forward(self, x: np.ndarray, engine="exact", return_all: bool = False):
        """x: (N, 3, h, w) float32 normalised planes. Returns the last output, or every layer's,
        with maps as (N, C, H, W) (the layers work on planar (C, H, W, N) maps internally).
        engine: an engine name or a `kernels.Arithmetic` (engine, C++ build, threads)."""
        x = np.asarray(x, np.float32).transpose(1, 2, 3, 0)
        outs = self.forward_planar(np.ascontiguousarray(x), engine, return_all)
        if return_all:
            return [_batch_first(o) for o in outs]
        return _batch_first(outs)

    def forward_planar(self, x: np.ndarray, engine: str | Arithmetic = "exact", return_all: bool = False):
        """The same on planar input (3, h, w, N); maps come out planar (C, H, W, N). Without
        return_all a conv and the PReLU after it run as one fused kernel where possible."""
        arith = arithmetic(engine)
        outs, i = [], 0
        while i < len(self.layers):
            layer = self.layers[i]
            after = self.layers[i + 1] if i + 1 < len(self.layers) else None
            if not return_all and layer.kind == "conv" and after is not None and after.kind == "prelu":
                x, i = L.conv(x, layer, arith, after), i + 2
                continue
            x, i = L.apply(x, layer, arith), i + 1
            if return_all:
                outs.append(x)
        return outs if return_all else x

    def shapes(self, side: int | None = None) -> list:
        """Output shape (without batch) of each layer for a side x side input; raises on mismatch."""
        side = side or NET_INPUT.get(self.name, 12)
        shape, out = (3, side, side), []
        for i, layer in enumerate(self.layers):
            shape = _next_shape(shape, layer, i, self)
            out.append(shape)
        return out

    def describe(self, side: int | None = None) -> list:
        """A row per layer: index, kind, output shape, parameter count, detail text."""
        side = side or NET_INPUT.get(self.name, 12)
        rows, shape = [], (3, side, side)
        for i, (layer, out) in enumerate(zip(self.layers, self.shapes(side))):
            rows.append(
                {
                    "index": i,
                    "kind": layer.kind,
                    "input": "x".join(map(str, shape)),
                    "output": "x".join(map(str, out)),
                    "parameters": _param_count(layer),
                    "detail": _detail(layer),
                }
            )
            shape = out
        return rows


def _batch_first(a: np.ndarray) -> np.ndarray:
    return a.transpose(3, 0, 1, 2) if a.ndim == 4 else a


def _param_count(layer) -> int:
    if layer.kind in ("conv", "fc"):
        return int(layer.weight.size + layer.bias.size)
    if layer.kind == "prelu":
        return int(layer.slope.size)
    return 0


def _detail(layer) -> str:
    if layer.kind == "conv":
        o, i, kh, kw = layer.weight.shape
        return f"{i}->{o} channels, {kh}x{kw} kernel"
    if layer.kind == "maxpool":
        return f"{layer.kx}x{layer.ky} window, stride {layer.sx}"
    if layer.kind == "fc":
        return f"{layer.weight.shape[1]}->{layer.weight.shape[0]}"
    if layer.kind == "prelu":
        return f"{layer.slope.size} slopes"
    return ""


def _next_shape(shape, layer, i, net):
    def bad(msg):
        raise ModelFormatError(net.path or net.name, None, f"layer {i} ({layer.kind}): {msg}")

    if layer.kind == "conv":
        o, c, kh, kw = layer.weight.shape
        if len(shape) != 3 or shape[0] != c:
            bad(f"expects {c} input channels, gets shape {shape}")
        if shape[1] < kh or shape[2] < kw:
            bad(f"{kh}x{kw} kernel larger than its {shape[1]}x{shape[2]} input")
        return (o, shape[1] - kh + 1, shape[2] - kw + 1)
    if layer.kind == "maxpool":
        if len(shape) != 3:
            bad("needs feature maps")
        return (
            shape[0],
            L.pool_output_size(shape[1], layer.ky, layer.sy),
            L.pool_output_size(shape[2], layer.kx, layer.sx),
        )
    if layer.kind == "prelu":
        n = shape[0]
        if layer.slope.size != n:
            bad(f"{layer.slope.size} slopes for {n} channels")
        return shape
    if layer.kind == "fc":
        o, k = layer.weight.shape
        if len(shape) == 3 and shape[0] == k:
            return (o, shape[1], shape[2])
        if int(np.prod(shape)) != k:
            bad(f"expects {k} inputs, gets {int(np.prod(shape))}")
        return (o,)
    return shape


def load_network(name: str, path, custom_architecture: bool = False) -> Network:
    """Read one `.dat` file and check it can act as `name` (PNet/RNet/ONet)."""
    from .safe_io import MAX_MODEL_BYTES, read_regular_file

    try:
        data = read_regular_file(path, MAX_MODEL_BYTES)
    except OSError as e:
        raise ModelFormatError(path, None, f"cannot read file: {e.strerror or e}") from None
    return network_from_bytes(name, data, Path(path), custom_architecture)


def network_from_bytes(name: str, data: bytes, source, custom_architecture: bool = False) -> Network:
    """Parse and check a network held in memory (nothing is written): OpenFace's exact MTCNN
    layer shapes, or with custom_architecture any consistent network within the size bounds."""
    from .architecture import check_architecture, check_bounds
    from .dat_format import parse_dat

    layers = parse_dat(data, source)
    if custom_architecture:
        check_bounds(name, layers, source)
    else:
        check_architecture(name, layers, source)
    net = Network(name, layers, Path(source) if not isinstance(source, Path) else source)
    path = source
    shapes = net.shapes()
    last = shapes[-1] if shapes else (0,)
    if last[0] < NET_MIN_OUTPUTS.get(name, 1):
        raise ModelFormatError(
            path, None, f"{name} must output at least {NET_MIN_OUTPUTS[name]} values, this network outputs {last[0]}"
        )
    if name == "PNet" and len(last) != 3:
        raise ModelFormatError(path, None, "PNet must be fully convolutional (map output)")
    if name != "PNet" and (len(last) != 1):
        raise ModelFormatError(path, None, f"{name} must end in a fully connected layer")
    return net
