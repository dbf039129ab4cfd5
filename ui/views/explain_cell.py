"""'Follow one cell' (Pyramid & PNet page): why a PNet heatmap cell has its probability.

Click a heatmap cell (or type its row/col) to see its 12x12 window, every PNet layer's values that
feed it, conv1 as the C++'s multiply-adds, logits -> P(face), the regression and the box's fate.
All numbers come from mtcnn_core.explain (the core's own functions on the level's exact input).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from mtcnn_core import explain as E

from ..figures import draw, imaging, plots
from ..figures import explain_figures as xf
from . import journey, nets_input, overlay, pipeline, state

ROW, COL, LEVEL = "xc_row", "xc_col", "xc_level"
CONV_CH, CONV_DY, CONV_DX = "xc_conv_ch", "xc_conv_dy", "xc_conv_dx"
HEAT_KEY = "pyr_heat"
LAYER_TITLES = {"conv": "conv", "prelu": "PReLU", "maxpool": "max pool", "fc": "fully connected (per cell)"}


def strongest_cell(heatmap: np.ndarray) -> tuple[int, int]:
    """(row, col) of the highest P(face) (first in row-major order on ties)."""
    r, c = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
    return int(r), int(c)


def clicked_cell(points, shape: tuple) -> tuple[int, int] | None:
    """(row, col) of a clicked heatmap point; with a block-reduced display (k x k cells per shown
    cell) the block's strongest cell is not known here, so its top-left cell is returned."""
    if not points:
        return None
    p = points[0]
    x, y = p.get("x"), p.get("y")
    if x is None or y is None:
        return None
    k = plots.display_factor(shape)
    r, c = int(round(float(y))) * k, int(round(float(x))) * k
    return min(max(r, 0), shape[0] - 1), min(max(c, 0), shape[1] - 1)


def on_heatmap_click(shape: tuple):
    """Heatmap selection callback: the clicked cell becomes the explained one."""
    event = st.session_state.get(HEAT_KEY) or {}
    points = (event.get("selection") or {}).get("points") or []
    cell = clicked_cell(points, shape)
    if cell is not None:
        st.session_state[ROW], st.session_state[COL] = cell


#: Heatmaps with at most this many displayed cells get invisible click targets (plotly heatmaps
#: cannot be selected; a scatter point per cell can).
MAX_CLICK_TARGETS = 40_000


def add_click_targets(fig, level):
    """Selectable, invisible markers at the displayed cells' centres of a heatmap figure (plotly
    cannot select heatmap cells, a click on a marker selects it); the markers carry the heatmap's
    hover text."""
    import plotly.graph_objects as go

    heat = fig.data[0]
    z = np.asarray(heat.z, np.float64)
    h, w = z.shape
    if h * w > MAX_CLICK_TARGETS:
        return fig
    yy, xx = np.mgrid[0:h, 0:w]
    custom = np.concatenate([np.asarray(heat.customdata).reshape(h * w, -1), z.reshape(-1, 1)], axis=1)
    fig.add_trace(
        go.Scatter(
            x=xx.ravel(),
            y=yy.ravel(),
            mode="markers",
            customdata=custom,
            marker=dict(size=7, opacity=0),
            showlegend=False,
            name="cells",
            hovertemplate=heat.hovertemplate.replace("%{z:", "%{customdata[4]:"),
        )
    )
    heat.hoverinfo, heat.hovertemplate = "skip", None
    fig.update_layout(hovermode="closest")
    return fig


def heatmap_chart_kwargs(level) -> dict:
    """Extra st.plotly_chart arguments that make the level's heatmap clickable."""
    return dict(on_select=lambda: on_heatmap_click(tuple(level.heatmap.shape)), selection_mode="points")


def _pick(level) -> tuple[int, int]:
    """The explained cell of this level (strongest cell when the level changed or on first use)."""
    ss = st.session_state
    h, w = level.heatmap.shape
    if ss.get(LEVEL) != level.index or ROW not in ss or COL not in ss:
        ss[ROW], ss[COL] = strongest_cell(level.heatmap)
        ss[LEVEL] = level.index
    ss[ROW] = int(min(max(ss[ROW], 0), h - 1))
    ss[COL] = int(min(max(ss[COL], 0), w - 1))
    return ss[ROW], ss[COL]


def _to_strongest(level):
    st.session_state[ROW], st.session_state[COL] = strongest_cell(level.heatmap)


def explanation(run, level, row: int, col: int, conv_pick: tuple):
    """The CellExplanation of (row, col), from the level's cached exact input and PNet layers."""
    x = nets_input.pnet_level_input(run.sha, level.index, float(level.scale), run.bgr, level)
    outs = pipeline.forward_all(
        "PNet", run.model_folder, run.engine, f"{run.key}|pnet|{level.index}", x, state.custom_architecture()
    )
    net = pipeline.get_models(run.model_folder, state.custom_architecture()).pnet
    return E.explain_cell(run.trace, level.index, row, col, x, outs, net, conv_pick)


def render(run, level):
    """The 'Follow one cell' section for the current pyramid level."""
    if level.heatmap is None:
        return
    st.subheader("Follow one cell: why this probability?")
    st.caption(
        "Click a cell of the heatmap above, or type its row and column. Every number below is "
        "computed by the detector's own code on this level's exact input."
    )
    row, col = _pick(level)
    h, w = level.heatmap.shape
    c1, c2, c3 = st.columns([1, 1, 1.2])
    c1.number_input("Cell row", 0, h - 1, key=ROW, step=1)
    c2.number_input("Cell column", 0, w - 1, key=COL, step=1)
    c3.button("Strongest cell", on_click=_to_strongest, args=(level,), key="xc_best", width="stretch")
    row, col = int(st.session_state[ROW]), int(st.session_state[COL])
    ss = st.session_state
    ss.setdefault(CONV_CH, 0)
    ss.setdefault(CONV_DY, 0)
    ss.setdefault(CONV_DX, 0)
    ex = explanation(run, level, row, col, (ss[CONV_CH], ss[CONV_DY], ss[CONV_DX]))
    verdict = "≥" if ex.prob >= np.float32(ex.t1) else "<"
    st.markdown(
        f"### Cell (row {row}, col {col}) of level {level.index}: P(face) = **{ex.prob:.6f}** {verdict} t1 = {ex.t1}"
    )
    left, right = st.columns([1, 1])
    with left:
        _window(run, level, ex)
    with right:
        st.plotly_chart(cell_box_figure(run, ex), width="stretch", key="xc_box_fig")
        st.caption(
            "Yellow: the cell's box on the photo (its 12×12 window scaled back by 1/scale). Cyan "
            "arrows: PNet's regression moves each edge; dashed cyan: the moved box; dashed white: "
            "the square RNet would see."
        )
    _path(ex)
    _conv_walk(ex, level)
    _head(ex)
    journey.render(ex.journey, "What happened to this cell's box")


def _window(run, level, ex):
    r0, r1, c0, c1 = ex.window
    pic = draw.crop_preview(ex.window_pixels[None], scale=16)
    st.image(
        imaging.display_png(pic, nearest=True),
        width=260,
        caption=f"PNet's input window: level-image rows {r0}–{r1 - 1}, columns {c0}–{c1 - 1} "
        f"({r1 - r0}×{c1 - c0} px; stride 2 → cell ({ex.row}, {ex.col}))",
    )
    if r1 - r0 < 12 or c1 - c0 < 12:
        st.caption(
            "At the level's bottom/right edge the last max-pool window is cut short, so this "
            "cell reads fewer than 12 pixels there (as in the C++)."
        )


def cell_box_figure(run, ex):
    """The cell's box on the photo, the regression as arrows, the moved box and its square."""
    from ..figures import plots as F

    fig = overlay.image_figure(run, px_height=340)
    F.add_boxes(fig, [ex.box], "cell box", "#ffd60a", width=3)
    F.add_boxes(fig, [ex.corrected], "after regression", "#00e5ff", width=2, dash="dash")
    F.add_boxes(fig, [ex.square], "squared (RNet input)", "white", width=1, dash="dot")
    plots.add_arrows(fig, xf.edge_arrows(ex.box, ex.corrected))
    boxes = [ex.box, ex.corrected]
    last = ex.journey[-1]
    if last.outcome == "suppressed" and last.by_box is not None:
        F.add_boxes(fig, [last.by_box], f"suppressed by ({last.stage})", "#ff4d4d", width=2)
        boxes.append(last.by_box)
    fig.update_layout(showlegend=True, legend=dict(orientation="h", y=-0.02, yanchor="top"))
    return xf.zoom(fig, boxes)


def _path(ex):
    st.markdown(
        "**The path through PNet**: each layer's values that feed this cell (hover for "
        "channel, position and exact value; colour bar: blue < 0 < red)."
    )
    names = E.output_names("PNet", 6)
    cols = st.columns(4)
    for k, s in enumerate(ex.slices):
        title = f"{s.layer}: {LAYER_TITLES.get(s.kind, s.kind)} — " + "×".join(map(str, s.values.shape))
        with cols[k % 4]:
            if s.values.shape[1:] == (1, 1):
                fig = xf.vector_figure(s.values[:, 0, 0], title, names if s.kind == "fc" else None, px_height=240)
            else:
                fig = xf.maps_figure(s.values, title, px_height=240, row0=s.rows[0], col0=s.cols[0])
            st.plotly_chart(fig, width="stretch", key=f"xc_layer_{k}")


def _conv_walk(ex, level):
    w = ex.conv
    st.markdown(
        "**conv1, one output written out.** OpenFace computes a conv as im2col + one GEMM: "
        "term j = channel·9 + kernel column·3 + kernel row, the bias last (×1), each step a "
        "float32 fused multiply-add onto the running sum."
    )
    c1, c2, c3 = st.columns(3)
    c1.number_input("conv1 output channel", 0, 9, key=CONV_CH, step=1)
    c2.number_input("row in the 10×10 map", 0, 9, key=CONV_DY, step=1)
    c3.number_input("column in the 10×10 map", 0, 9, key=CONV_DX, step=1)
    rows = [
        {
            "j": t.j,
            "input": "bias" if t.channel < 0 else xf.RGB_NAMES[t.channel],
            "kernel row": "" if t.channel < 0 else str(t.r),
            "kernel col": "" if t.channel < 0 else str(t.c),
            "x (input)": f"{t.x:.9g}",
            "w (weight)": f"{t.w:.9g}",
            "x·w": f"{t.x * t.w:.9g}",
            "running sum (float32)": f"{t.acc:.9g}" + (f" [{t.chain} chain]" if t.chain else ""),
        }
        for t in w.terms
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", height=300, key="xc_conv_table")
    mark = "bit-identical ✓" if w.equal else "differs ✗ (a BLAS engine does not follow the chain)"
    split = " (AVX2 build: this output is two interleaved chains, added at the end)" if w.split else ""
    st.markdown(
        f"Result **{w.result:.9g}** = conv1 map value at channel {w.out_channel}, level row {w.y}, "
        f"col {w.x}: **{w.layer_value:.9g}** — {mark}{split}."
    )


def _head(ex):
    names = E.output_names("PNet", 6)
    st.markdown("**From logits to P(face)** (OpenFace: `1 / (1 + cv::exp(o0 − o1))` in float32)")
    st.markdown(
        f"| {names[0]} o0 | {names[1]} o1 | d = o0 − o1 | cv::exp(d) | P(face) | heatmap value |\n"
        f"|---|---|---|---|---|---|\n"
        f"| {ex.logits[0]:.7g} | {ex.logits[1]:.7g} | {ex.diff:.7g} | {ex.exp:.7g} | **{ex.prob:.7g}** | "
        f"{ex.trace_prob:.7g} |"
    )
    dx1, dy1, dx2, dy2 = (float(v) for v in ex.regression)
    st.markdown(
        f"**Regression** (fractions of the box size): dx1 = {dx1:+.4f}, dy1 = {dy1:+.4f}, "
        f"dx2 = {dx2:+.4f}, dy2 = {dy2:+.4f} → box x={ex.corrected[0]:.1f} y={ex.corrected[1]:.1f} "
        f"w={ex.corrected[2]:.1f} h={ex.corrected[3]:.1f}, squared to "
        f"{ex.square[2]:.0f}×{ex.square[3]:.0f} at ({ex.square[0]:.0f}, {ex.square[1]:.0f}). "
        "Only proposals that survive both NMS steps are moved like this."
    )
