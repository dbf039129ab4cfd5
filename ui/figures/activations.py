"""Pure helpers for the Activations page: tiling feature maps / kernels into one coloured picture."""

from __future__ import annotations

import math

import numpy as np
from plotly.colors import sample_colorscale

COLOUR_MODES = ("per map", "per layer", "global")
MAX_TILES = 128

CAPTIONS = {
    "conv": "Convolution: each output map is one learned {k} filter slid over all {cin} input maps "
    "— early layers respond to edges and colour blobs, later ones to face parts.",
    "prelu": "PReLU: negative values are scaled by a learned per-channel slope (positives pass), "
    "the non-linearity that lets the net combine features.",
    "maxpool": "Max pooling: keeps the strongest response in each {k} window, halving the map so later "
    "layers see a wider area.",
    "fc": "Fully connected: every output looks at every input value at once.",
    "fc_pnet": "PNet's last layer acts on every cell: 2 face/non-face scores and 4 box regressions "
    "per 12×12 window (a 1×1 'fully connected' head).",
    "sigmoid": "Sigmoid: squashes values into 0..1.",
}


def _lut(name: str = "Viridis") -> np.ndarray:
    """(256, 3) uint8 colour table sampled from a plotly colour scale."""
    cols = sample_colorscale(name, list(np.linspace(0, 1, 256)), colortype="tuple")
    return np.clip(np.round(np.array(cols) * (255 if max(max(c) for c in cols) <= 1 else 1)), 0, 255).astype(np.uint8)


LUT = _lut()


def normalise(maps: np.ndarray, mode: str, global_range: tuple | None = None) -> np.ndarray:
    """Maps (n, h, w) scaled to 0..1 per map, per layer, or by a global (lo, hi)."""
    m = np.asarray(maps, np.float64)
    if mode == "per map":
        lo = m.min(axis=(1, 2), keepdims=True)
        hi = m.max(axis=(1, 2), keepdims=True)
    elif mode == "global" and global_range is not None:
        lo, hi = global_range
    else:
        lo, hi = m.min(), m.max()
    span = np.where(np.asarray(hi - lo) > 0, hi - lo, 1.0)
    return np.clip((m - lo) / span, 0, 1)


def tile(maps01: np.ndarray, cols: int | None = None, pad: int = 1) -> np.ndarray:
    """(n, h, w) values in 0..1 laid out as one grid, coloured with Viridis: (H, W, 3) uint8."""
    n, h, w = maps01.shape
    n = min(n, MAX_TILES)
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 40, np.uint8)
    for k in range(n):
        r, c = divmod(k, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y : y + h, x : x + w] = LUT[(maps01[k] * 255).astype(np.uint8)]
    return grid


def upscale(img: np.ndarray, min_side: int = 480) -> np.ndarray:
    """Nearest-neighbour enlargement so tiny grids stay visible (keeps pixels crisp)."""
    f = max(1, min_side // max(img.shape[:2]))
    return np.repeat(np.repeat(img, f, axis=0), f, axis=1)


def as_maps(out: np.ndarray) -> np.ndarray:
    """A layer output as (n, h, w) maps: (1, C, h, w) -> C maps; (1, n) -> one 1×n strip."""
    a = np.asarray(out)[0]
    if a.ndim == 3:
        return a
    return a.reshape(1, 1, -1)


def kernel_grid(weight: np.ndarray, max_out: int = 32) -> tuple[np.ndarray, str]:
    """Conv kernels as a picture: RGB filters for a 3-input layer, else each filter's mean over
    its inputs. Returns (H, W, 3) uint8 and a caption."""
    w = np.asarray(weight, np.float64)[:max_out]
    if w.shape[1] == 3:
        rgb = w.transpose(0, 2, 3, 1)
        m = np.abs(rgb).max() or 1.0
        tiles = ((rgb / m) * 127.5 + 127.5).astype(np.uint8)
        n, kh, kw, _ = tiles.shape
        cols = math.ceil(math.sqrt(n))
        rows = math.ceil(n / cols)
        grid = np.full((rows * (kh + 1) + 1, cols * (kw + 1) + 1, 3), 40, np.uint8)
        for k in range(n):
            r, c = divmod(k, cols)
            grid[1 + r * (kh + 1) : 1 + r * (kh + 1) + kh, 1 + c * (kw + 1) : 1 + c * (kw + 1) + kw] = tiles[k]
        return grid, "filters on the R, G, B input planes (grey = 0)"
    return tile(normalise(w.mean(axis=1), "per layer")), "each filter averaged over its input maps"


def colour_bar(width: int = 320, height: int = 14) -> np.ndarray:
    """(height, width, 3) uint8 strip of the colour table: low (left) to high (right)."""
    return np.repeat(LUT[np.linspace(0, 255, width).round().astype(int)][None], height, axis=0)


def scale_text(mode: str, layer_range: tuple, global_range: tuple) -> str:
    """What the colours of a feature grid mean in this colour mode, with the values at both ends."""
    if mode == "per map":
        return "colour scale: each map from its own minimum (left end) to its own maximum (right end)"
    lo, hi = global_range if mode == "global" else layer_range
    where = "every layer of this network" if mode == "global" else "every map of this layer"
    return f"colour scale: {lo:.6g} (left end) … {hi:.6g} (right end), the same for {where}"


def channel_names(net_name: str, index: int, n_layers: int, n_channels: int) -> list[str] | None:
    """Names of the output channels where they have a meaning: the last layer's (face/non-face
    logits, box regression, ONet's landmarks; see mtcnn_core.explain.output_names)."""
    if index != n_layers - 1:
        return None
    from mtcnn_core.explain import output_names

    return output_names(net_name, n_channels)


def value_range(arrays) -> tuple[float, float]:
    """(min, max) over several arrays (for the 'global' colour scale)."""
    lo = min(float(np.min(a)) for a in arrays)
    hi = max(float(np.max(a)) for a in arrays)
    return lo, hi


def layer_caption(net_name: str, index: int, layer, in_shape: str, out_shape: str) -> str:
    """One teaching sentence about a layer, with its shapes."""
    kind = layer.kind
    key = "fc_pnet" if (kind == "fc" and net_name == "PNet") else kind
    k = ""
    if kind == "conv":
        k = f"{layer.weight.shape[2]}×{layer.weight.shape[3]}"
    elif kind == "maxpool":
        k = f"{layer.kx}×{layer.ky}"
    cin = layer.weight.shape[1] if kind == "conv" else ""
    text = CAPTIONS.get(key, kind).format(k=k, cin=cin)
    return f"Layer {index} ({kind}, {in_shape} → {out_shape}). {text}"
