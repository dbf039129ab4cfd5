"""Plotly figures of the explanation views (pure: explanation objects in, go.Figure out)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from . import plots

MAP_SCALE = plots.safe_colorscale("RdBu_r")  # signed values: blue < 0 < red, 0 white
PROB_SCALE = "Magma"
RGB_NAMES = ("R", "G", "B")


def tiled_maps(values: np.ndarray, cols: int | None = None):
    """(C, h, w) maps laid out in a grid with one NaN gap: (grid, channel index, row, col) arrays."""
    c, h, w = values.shape
    cols = cols or max(1, math.ceil(math.sqrt(c)))
    rows = math.ceil(c / cols)
    grid = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan)
    ch = np.full(grid.shape, -1)
    rr, cc = np.full(grid.shape, -1), np.full(grid.shape, -1)
    for k in range(c):
        r0, c0 = (k // cols) * (h + 1), (k % cols) * (w + 1)
        grid[r0 : r0 + h, c0 : c0 + w] = values[k]
        ch[r0 : r0 + h, c0 : c0 + w] = k
        rr[r0 : r0 + h, c0 : c0 + w] = np.arange(h)[:, None]
        cc[r0 : r0 + h, c0 : c0 + w] = np.arange(w)[None, :]
    return grid, ch, rr, cc


def maps_figure(
    values: np.ndarray,
    title: str,
    names=None,
    px_height: int = 300,
    row0: int = 0,
    col0: int = 0,
    zrange: tuple | None = None,
) -> go.Figure:
    """A layer's maps (C, h, w) as one tiled heatmap with a colour bar symmetric about 0; hover
    names the channel and the map position (offset by row0/col0 in the full map)."""
    values = np.asarray(values, np.float32)
    grid, ch, rr, cc = tiled_maps(values)
    m = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
    lo, hi = zrange or (-(m or 1e-9), m or 1e-9)
    label = np.array(
        [names[k] if names is not None and k >= 0 else f"channel {k}" for k in range(len(values))] + [""], dtype=object
    )
    custom = np.stack([label[ch], rr + row0, cc + col0], axis=-1)
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            zmin=lo,
            zmax=hi,
            colorscale=MAP_SCALE,
            customdata=custom,
            xgap=0,
            ygap=0,
            colorbar=dict(title="value", thickness=12),
            hovertemplate="%{customdata[0]}<br>row %{customdata[1]}, col %{customdata[2]}<br>"
            "value %{z:.7g}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=False, showgrid=False)
    fig.update_xaxes(showticklabels=False, showgrid=False, constrain="domain")
    fig.update_layout(
        title=dict(text=title, font=dict(size=14)),
        height=px_height,
        margin=dict(l=0, r=0, t=32, b=0),
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return fig


def vector_figure(values: np.ndarray, title: str, names=None, px_height: int = 240) -> go.Figure:
    """A vector of values as bars (named when the entries have a meaning)."""
    v = np.asarray(values, np.float32).ravel()
    x = list(names) if names is not None else list(range(len(v)))
    fig = go.Figure(
        go.Bar(
            x=x,
            y=v,
            marker=dict(color=v, colorscale=MAP_SCALE, cmid=0, colorbar=dict(title="value", thickness=12)),
            hovertemplate="%{x}: %{y:.7g}<extra></extra>",
        )
    )
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=px_height, margin=dict(l=0, r=0, t=32, b=0))
    return fig


def fc1_input_figure(vector: np.ndarray, order: np.ndarray, shape: tuple, px_height: int = 300) -> go.Figure:
    """fc1's input vector in the C++'s order, one row per channel (entries ch*H*W .. ch*H*W+H*W-1):
    inside a row, entry k is map position (row k % H, col k // H) — each map read transposed."""
    c, h, w = shape
    grid = np.asarray(vector, np.float32).reshape(c, h * w)
    idx = np.arange(c * h * w).reshape(c, h * w)
    custom = np.stack(
        [idx, order[:, 0].reshape(c, h * w), order[:, 1].reshape(c, h * w), order[:, 2].reshape(c, h * w)], axis=-1
    )
    m = float(np.abs(grid).max()) or 1e-9
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            zmin=-m,
            zmax=m,
            colorscale=MAP_SCALE,
            customdata=custom,
            colorbar=dict(title="value", thickness=12),
            hovertemplate="v[%{customdata[0]}] = channel %{customdata[1]}, row %{customdata[2]}, "
            "col %{customdata[3]}<br>value %{z:.7g}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", title="channel")
    fig.update_xaxes(title=f"position in the channel's {h * w} entries (col × {h} + row)")
    fig.update_layout(
        title=dict(text=f"fc1 input: {c * h * w} values in the C++'s flatten order", font=dict(size=14)),
        height=px_height,
        margin=dict(l=0, r=0, t=32, b=0),
    )
    return fig


def edge_arrows(box, moved) -> list:
    """(x0, y0, x1, y1) from the middle of each edge of `box` to the same edge of `moved`."""
    x, y, w, h = (float(v) for v in box)
    nx, ny, nw, nh = (float(v) for v in moved)
    cx, cy = x + w / 2, y + h / 2
    return [(x, cy, nx, cy), (cx, y, cx, ny), (x + w, cy, nx + nw, cy), (cx, y + h, cx, ny + nh)]


def zoom(fig: go.Figure, boxes, margin: float = 0.6) -> go.Figure:
    """Zoom an image figure onto the union of some [x, y, w, h] boxes."""
    b = np.asarray([v for v in boxes if v is not None], float).reshape(-1, 4)
    x0, y0 = b[:, 0].min(), b[:, 1].min()
    x1, y1 = (b[:, 0] + b[:, 2]).max(), (b[:, 1] + b[:, 3]).max()
    m = margin * max(x1 - x0, y1 - y0) + 4
    fig.update_xaxes(range=[x0 - m, x1 + m])
    fig.update_yaxes(range=[y1 + m, y0 - m])
    return fig


def occlusion_figure(pixel_drop: np.ndarray, title: str, px_height: int = 340) -> go.Figure:
    """Mean fall of P(face) per input pixel when a grey patch covers it (red: the pixel mattered)."""
    d = np.asarray(pixel_drop, np.float32)
    m = float(np.abs(d).max()) or 1e-9
    fig = go.Figure(
        go.Heatmap(
            z=d,
            zmin=-m,
            zmax=m,
            colorscale=plots.safe_colorscale("RdBu_r"),
            colorbar=dict(title="drop in<br>P(face)", thickness=12),
            hovertemplate="row %{y}, col %{x}<br>mean drop %{z:.4g}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showgrid=False)
    fig.update_xaxes(showgrid=False, constrain="domain")
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=px_height, margin=dict(l=0, r=0, t=32, b=0))
    return fig
