"""The MTCNN architecture a model file must have (OpenFace 2.2's PNet/RNet/ONet), and the size
bounds a custom architecture must keep, so an uploaded model cannot cost more than the real one
(or a bounded multiple) before it runs on an image.

Each layer is (kind, shape): conv (out, in, kh, kw), prelu (n,), maxpool (kx, ky, sx, sy),
fc (out, in).
"""

from __future__ import annotations

from .errors import ModelFormatError

MTCNN_LAYERS = {
    "PNet": [
        ("conv", (10, 3, 3, 3)),
        ("prelu", (10,)),
        ("maxpool", (2, 2, 2, 2)),
        ("conv", (16, 10, 3, 3)),
        ("prelu", (16,)),
        ("conv", (32, 16, 3, 3)),
        ("prelu", (32,)),
        ("fc", (6, 32)),
    ],
    "RNet": [
        ("conv", (28, 3, 3, 3)),
        ("prelu", (28,)),
        ("maxpool", (3, 3, 2, 2)),
        ("conv", (48, 28, 3, 3)),
        ("prelu", (48,)),
        ("maxpool", (3, 3, 2, 2)),
        ("conv", (64, 48, 2, 2)),
        ("prelu", (64,)),
        ("fc", (128, 576)),
        ("prelu", (128,)),
        ("fc", (6, 128)),
    ],
    "ONet": [
        ("conv", (32, 3, 3, 3)),
        ("prelu", (32,)),
        ("maxpool", (3, 3, 2, 2)),
        ("conv", (64, 32, 3, 3)),
        ("prelu", (64,)),
        ("maxpool", (3, 3, 2, 2)),
        ("conv", (64, 64, 3, 3)),
        ("prelu", (64,)),
        ("maxpool", (2, 2, 2, 2)),
        ("conv", (128, 64, 2, 2)),
        ("prelu", (128,)),
        ("fc", (256, 1152)),
        ("prelu", (256,)),
        ("fc", (16, 256)),
    ],
}

#: Bounds for a custom architecture (--custom-architecture / the app's checkbox): channels per
#: map layer (PNet runs on whole pyramid levels, so its maps are bounded tighter), layers, weights.
MAX_CHANNELS = {"PNet": 64, "RNet": 512, "ONet": 512}
MAX_FC_OUTPUTS = 4096
MAX_LAYERS = 32
MAX_PARAMETERS = 8_000_000


def layer_signature(layer) -> tuple:
    """(kind, shape) of a dat_format layer object."""
    if layer.kind in ("conv", "fc"):
        return layer.kind, tuple(int(d) for d in layer.weight.shape)
    if layer.kind == "prelu":
        return "prelu", (int(layer.slope.size),)
    if layer.kind == "maxpool":
        return "maxpool", (layer.kx, layer.ky, layer.sx, layer.sy)
    return layer.kind, ()


def check_architecture(name: str, layers: list, source) -> None:
    """Raise ModelFormatError unless `layers` are exactly OpenFace's `name` network's shapes."""
    want = MTCNN_LAYERS[name]
    got = [layer_signature(x) for x in layers]
    if len(got) != len(want):
        raise ModelFormatError(
            source,
            None,
            f"{len(got)} layers, {name} has {len(want)} (a custom architecture must be allowed explicitly)",
        )
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            raise ModelFormatError(
                source,
                None,
                f"layer {i} is {g[0]} {g[1]}, {name} has {w[0]} "
                f"{w[1]} (a custom architecture must be allowed explicitly)",
            )


def check_bounds(name: str, layers: list, source) -> None:
    """Raise ModelFormatError if a custom network is larger than the bounds above."""
    if len(layers) > MAX_LAYERS:
        raise ModelFormatError(source, None, f"{len(layers)} layers, over the limit of {MAX_LAYERS}")
    total = 0
    for i, layer in enumerate(layers):
        kind, shape = layer_signature(layer)
        if kind == "conv" and shape[0] > MAX_CHANNELS[name]:
            raise ModelFormatError(
                source, None, f"layer {i}: {shape[0]} channels, over the limit of {MAX_CHANNELS[name]} for {name}"
            )
        if kind == "fc" and shape[0] > (MAX_CHANNELS[name] if name == "PNet" else MAX_FC_OUTPUTS):
            raise ModelFormatError(source, None, f"layer {i}: {shape[0]} outputs, over the limit")
        if kind in ("conv", "fc"):
            total += int(layer.weight.size) + int(layer.bias.size)
    if total > MAX_PARAMETERS:
        raise ModelFormatError(source, None, f"{total:,} weights, over the limit of {MAX_PARAMETERS:,}")
