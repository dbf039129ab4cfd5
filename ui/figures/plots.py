"""Plotly figure builders (pure: arrays in, go.Figure out) shared by the pages."""

from __future__ import annotations

import base64
import io
import math

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.colors import sample_colorscale

SCORE_SCALE = "Viridis"
MAX_DISPLAY_SIDE = 1600


def safe_colorscale(name: str) -> list:
    """A named plotly colour scale as explicit rgb() stops. Streamlit's frontend treats hex colours
    '#000001', '#000002', ... as theme placeholders and repaints them (Magma starts at '#000004')."""
    from plotly.colors import get_colorscale, hex_to_rgb

    out = []
    for pos, colour in get_colorscale(name):
        if isinstance(colour, str) and colour.startswith("#"):
            colour = "rgb({},{},{})".format(*hex_to_rgb(colour))
        out.append([pos, colour])
    return out


def image_data_uri(rgb: np.ndarray, max_side: int = MAX_DISPLAY_SIDE) -> tuple[str, float]:
    """(JPEG data URI of the image shrunk to at most max_side px, pixel size of one displayed pixel)."""
    im = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
    f = max(1.0, max(im.size) / max_side)
    if f > 1:
        im = im.resize((round(im.width / f), round(im.height / f)), Image.BILINEAR)
    buf = io.BytesIO()
    im.convert("RGB").save(buf, format="JPEG", quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode(), f


def image_figure(
    uri: str, pixel: float, width: int, height: int, title: str | None = None, px_height: int = 520
) -> go.Figure:
    """A figure showing the image in original-pixel coordinates (y down), ready for box overlays."""
    fig = go.Figure(go.Image(source=uri, x0=pixel / 2, y0=pixel / 2, dx=pixel, dy=pixel, hoverinfo="skip"))
    fig.update_xaxes(range=[0, width], showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(range=[height, 0], showgrid=False, zeroline=False, scaleanchor="x")
    # legend above the plot, right-aligned: off the image and off the tick labels
    fig.update_layout(
        margin=dict(l=0, r=0, t=64 if title else 34, b=0),
        height=px_height,
        title=dict(text=title, x=0, xanchor="left", y=1, yanchor="top", pad=dict(t=6)) if title else None,
        legend=dict(orientation="h", x=1, xanchor="right", y=1.0, yanchor="bottom"),
        dragmode="pan",
    )
    return fig


def box_outline(boxes) -> tuple[np.ndarray, np.ndarray]:
    """x/y arrays tracing each [x, y, w, h] box as a closed line, boxes separated by NaN (a gap:
    numpy arrays, so plotly does not validate a Python list element by element)."""
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)
    x, y, w, h = (b[:, i : i + 1] for i in range(4))
    gap = np.full_like(x, np.nan)
    xs = np.hstack([x, x + w, x + w, x, x, gap]).ravel()
    ys = np.hstack([y, y, y + h, y + h, y, gap]).ravel()
    return xs, ys


def add_boxes(
    fig: go.Figure,
    boxes,
    name: str,
    colour: str,
    width: float = 2,
    dash=None,
    opacity: float = 1.0,
    showlegend: bool = True,
) -> go.Figure:
    """Outline boxes as one line trace (so one legend entry per set)."""
    xs, ys = box_outline(boxes)
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines",
            name=name,
            opacity=opacity,
            line=dict(color=colour, width=width, dash=dash),
            hoverinfo="skip",
            showlegend=showlegend,
        )
    )
    return fig


def edge_points(boxes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, box index) of 8 points on each box's outline (corners and edge middles): hover
    targets that sit on the box, not over the face inside it."""
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)
    x, y, w, h = b.T
    fx = np.array([0, 0.5, 1, 1, 1, 0.5, 0, 0])
    fy = np.array([0, 0, 0, 0.5, 1, 1, 1, 0.5])
    px = (x[:, None] + w[:, None] * fx).ravel()
    py = (y[:, None] + h[:, None] * fy).ravel()
    return px, py, np.repeat(np.arange(len(b)), len(fx))


def add_edge_hover(fig: go.Figure, boxes, texts, name: str, colour="white") -> go.Figure:
    """Invisible hover targets on each box's outline carrying its text (no marker over faces)."""
    px, py, which = edge_points(boxes)
    texts = list(texts)
    fig.add_trace(
        go.Scatter(
            x=px,
            y=py,
            mode="markers",
            name=name,
            showlegend=False,
            marker=dict(size=10, color=colour, opacity=0),
            text=np.asarray(texts, dtype=object)[which] if len(texts) else [],
            hovertemplate="%{text}<extra></extra>",
        )
    )
    return fig


def add_box_hover(fig: go.Figure, boxes, texts, name: str, colour="white", scores=None, showscale=False) -> go.Figure:
    """Hover text on each box's outline (invisible targets, see add_edge_hover), and the score
    colour bar if scores are given."""
    add_edge_hover(fig, boxes, texts, name, colour)
    if scores is not None and showscale:
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                showlegend=False,
                hoverinfo="skip",
                marker=dict(
                    color=[0.0],
                    colorscale=safe_colorscale(SCORE_SCALE),
                    cmin=0,
                    cmax=1,
                    showscale=True,
                    colorbar=dict(title="score", len=0.6, thickness=12),
                ),
            )
        )
    return fig


def add_scored_boxes(fig: go.Figure, boxes, scores, name: str, bins: int = 8) -> go.Figure:
    """Boxes coloured by score (grouped into a few colour bins to keep the figure light)."""
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)
    s = np.clip(np.asarray(scores, dtype=float), 0, 1)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(s, edges) - 1, 0, bins - 1)
    colours = sample_colorscale(SCORE_SCALE, list((edges[:-1] + edges[1:]) / 2))
    for k in range(bins):
        sel = which == k
        if sel.any():
            add_boxes(fig, b[sel], f"{name} {edges[k]:.2f}-{edges[k + 1]:.2f}", colours[k], showlegend=False)
    return fig


def cell_boxes(shape: tuple, scale: float) -> np.ndarray:
    """(h, w, 4) int x1, y1, x2, y2 in original pixels of every PNet cell at this scale, computed
    by the core's own box-generation rule (mtcnn_core.boxes.cell_edges)."""
    from mtcnn_core.boxes import cell_edges

    h, w = shape
    x1, x2 = cell_edges(np.arange(w), scale)
    y1, y2 = cell_edges(np.arange(h), scale)
    out = np.empty((h, w, 4), np.int32)
    out[..., 0], out[..., 2] = x1[None, :], x2[None, :]
    out[..., 1], out[..., 3] = y1[:, None], y2[:, None]
    return out


#: Cells drawn per heatmap figure; a bigger map is shown as the maximum over k x k blocks, so a
#: figure (and its per-cell hover data) stays a few MB whatever the image size.
MAX_HEATMAP_CELLS = 160_000


def display_factor(shape: tuple, max_cells: int = MAX_HEATMAP_CELLS) -> int:
    """k such that a (h, w) map shown in k x k blocks has at most max_cells cells."""
    h, w = shape
    return max(1, math.ceil(math.sqrt(h * w / max_cells)))


def block_reduce(a: np.ndarray, k: int, by_abs: bool = False) -> np.ndarray:
    """(ceil(h/k), ceil(w/k)) maximum of each k x k block (by_abs: the value of largest |x|)."""
    if k == 1:
        return a
    h, w = a.shape
    H, W = -(-h // k), -(-w // k)
    pad = np.full((H * k, W * k), np.nan, np.float64)
    pad[:h, :w] = a
    blocks = pad.reshape(H, k, W, k).transpose(0, 2, 1, 3).reshape(H, W, k * k)
    if not by_abs:
        return np.nanmax(blocks, axis=2).astype(a.dtype)
    idx = np.nanargmax(np.abs(blocks), axis=2)
    return np.take_along_axis(blocks, idx[..., None], axis=2)[..., 0].astype(a.dtype)


def heatmap_figure(
    prob: np.ndarray, scale: float, t1: float, title: str | None = None, px_height: int = 420, colorscale: str = "Magma"
) -> go.Figure:
    """PNet face probability per cell; hover gives the probability and the original-image box of
    the cell; the t1 contour shows which cells become proposals. A map over MAX_HEATMAP_CELLS is
    shown as the maximum of k x k blocks (the hover box then spans the block)."""
    prob = np.asarray(prob, dtype=np.float32)
    k = display_factor(prob.shape)
    boxes = cell_boxes(prob.shape, scale)
    if k > 1:
        h, w = prob.shape
        rows, cols = np.arange(0, h, k), np.arange(0, w, k)
        last_r, last_c = np.minimum(rows + k, h) - 1, np.minimum(cols + k, w) - 1
        first, last = boxes[rows][:, cols], boxes[last_r][:, last_c]
        boxes = np.concatenate([first[..., :2], last[..., 2:]], axis=-1)
        prob = block_reduce(prob, k)
        title = f"{title or ''} (max of {k}x{k} cells)".strip()
    fig = go.Figure(
        go.Heatmap(
            z=prob,
            zmin=0,
            zmax=1,
            colorscale=safe_colorscale(colorscale),
            customdata=boxes,
            colorbar=dict(title="P(face)", thickness=12, len=0.9),
            hovertemplate=(
                "cell row %{y}, col %{x}<br>P(face) = %{z:.7f}<br>"
                "box x1=%{customdata[0]} y1=%{customdata[1]} "
                "x2=%{customdata[2]} y2=%{customdata[3]}<extra></extra>"
            ),
        )
    )
    if prob.size and prob.max() >= t1 > prob.min():
        fig.add_trace(
            go.Contour(
                z=prob,
                showscale=False,
                hoverinfo="skip",
                name=f"t1 = {t1}",
                contours=dict(start=t1, end=t1, size=1, coloring="none"),
                line=dict(color="cyan", width=2),
                showlegend=False,
            )
        )
    h, w = prob.shape
    # exact ranges (no empty padding around the map), kept square by shrinking the domain
    fig.update_yaxes(range=[h - 0.5, -0.5], scaleanchor="x", constrain="domain", title="row y")
    fig.update_xaxes(range=[-0.5, w - 0.5], constrain="domain", title="col x")
    fig.update_layout(
        height=px_height,
        margin=dict(l=0, r=0, t=30 if title else 0, b=0),
        title=title,
        template="plotly_dark",
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return fig


def proposals_per_scale_figure(scales: list, current: int | None = None) -> go.Figure:
    """Bars per pyramid level: cells >= t1 and boxes left after the per-scale NMS 0.5."""
    labels = [f"{s.index}: ×{s.scale:.3f}" for s in scales]
    above = [s.num_above_t1 for s in scales]
    kept = [len(s.kept) for s in scales]
    fig = go.Figure([go.Bar(x=labels, y=above, name="cells ≥ t1"), go.Bar(x=labels, y=kept, name="after NMS 0.5")])
    if current is not None and 0 <= current < len(labels):
        fig.add_vrect(x0=current - 0.5, x1=current + 0.5, fillcolor="orange", opacity=0.15, line_width=0)
    fig.update_layout(
        barmode="group",
        height=300,
        margin=dict(l=0, r=0, t=60, b=0),
        title=dict(text="Proposals per scale", y=0.97, yanchor="top"),
        xaxis_title="level: scale",
        legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"),
    )
    return fig


def funnel_figure(counts: list[tuple[str, int]], current: str | None = None) -> go.Figure:
    """Box counts through the cascade stages."""
    labels = [c[0] for c in counts]
    colours = ["orange" if lab == current else "steelblue" for lab in labels]
    fig = go.Figure(go.Funnel(y=labels, x=[c[1] for c in counts], marker=dict(color=colours), textinfo="value"))
    fig.update_layout(height=300, margin=dict(l=0, r=0, t=10, b=0))
    return fig


def diff_heatmap_figure(diff: np.ndarray, title: str, px_height: int = 360) -> go.Figure:
    """A signed difference map (Python − C++), symmetric colour range around 0; a big map is
    shown per k x k block as its largest-magnitude difference."""
    k = display_factor(diff.shape)
    if k > 1:
        diff = block_reduce(np.asarray(diff, np.float64), k, by_abs=True)
        title = f"{title} (largest of {k}x{k} cells)"
    m = float(np.abs(diff).max()) if diff.size else 0.0
    fig = go.Figure(
        go.Heatmap(
            z=diff,
            zmin=-m or -1e-9,
            zmax=m or 1e-9,
            colorscale="RdBu",
            colorbar=dict(title="Δ P"),
            hovertemplate="row %{y}, col %{x}<br>Δ = %{z:.3e}<extra></extra>",
        )
    )
    h, w = diff.shape
    fig.update_yaxes(range=[h - 0.5, -0.5], scaleanchor="x", constrain="domain")
    fig.update_xaxes(range=[-0.5, w - 0.5], constrain="domain")
    fig.update_layout(
        height=px_height,
        margin=dict(l=0, r=0, t=30, b=0),
        title=title,
        template="plotly_dark",
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return fig


def add_arrows(fig: go.Figure, arrows, colour: str = "#00e5ff"):
    """Arrows (x0, y0, x1, y1) in data coordinates."""
    for x0, y0, x1, y1 in arrows:
        fig.add_annotation(
            x=x1,
            y=y1,
            ax=x0,
            ay=y0,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=2,
            arrowwidth=2,
            arrowcolor=colour,
            text="",
        )
    return fig
