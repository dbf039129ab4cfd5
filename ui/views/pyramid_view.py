"""Pyramid & PNet page: one pyramid level at a time — resized image, heatmap, proposals."""

from __future__ import annotations

import numpy as np
import streamlit as st

from .. import core
from ..figures import plots, stages
from . import explain_cell, nets_input, overlay

KEY = "pyr_level"


def step_level(delta: int, n: int):
    """Prev/next button callback, clamped to the available levels."""
    st.session_state[KEY] = int(min(max(st.session_state.get(KEY, 0) + delta, 0), n - 1))


def level_chooser(n: int) -> int:
    """Slider plus previous/next buttons; the level index lives in session_state."""
    if st.session_state.get(KEY, 0) >= n:
        st.session_state[KEY] = n - 1
    st.session_state.setdefault(KEY, 0)
    c1, c2, c3 = st.columns([1.3, 7, 1.3])
    c1.button("◀ Prev", on_click=step_level, args=(-1, n), key="pyr_prev", width="stretch")
    c3.button("Next ▶", on_click=step_level, args=(1, n), key="pyr_next", width="stretch")
    if n > 1:
        c2.slider("Pyramid level", 0, n - 1, key=KEY)
    return int(st.session_state[KEY])


def level_caption(level, factor: float) -> str:
    """What this level can see: faces of about 12/scale px, proposals every 2/scale px."""
    size = stages.min_face_for_scale(level.scale)
    return (
        f"Level {level.index}: scale {level.scale:.4f} → {level.width}×{level.height} px image, "
        f"{level.heatmap_width}×{level.heatmap_height} PNet cells. PNet looks through a 12×12 "
        f"window with stride 2, so this level finds faces of about **{size:.0f} px** "
        f"(up to ≈{size / factor:.0f} px, where the next level takes over), one proposal every "
        f"{2 / level.scale:.1f} px of the original image."
    )


def empty_level_note(level, t1: float) -> str:
    """Why a level shows no proposal box."""
    best = float(level.heatmap.max()) if level.heatmap is not None and level.heatmap.size else None
    peak = f" (its highest P(face) is {best:.4f})" if best is not None else ""
    return (
        f"No proposal at level {level.index}: no PNet cell reaches t1 = {t1}{peak}, so nothing "
        f"of about {stages.min_face_for_scale(level.scale):.0f} px was found here."
    )


def render(run):
    """Page body."""
    trace = run.trace
    if not trace.scales:
        st.info("This image is too small for the chosen minimum face size: the pyramid is empty.")
        return
    i = level_chooser(len(trace.scales))
    level = trace.scales[i]
    st.markdown(level_caption(level, run.params["pyramid_factor"]))
    left, right = st.columns(2)
    with left:
        _level_image(run, level)
    with right:
        _heatmap(run, level)
    if level.num_above_t1 == 0:
        st.info(empty_level_note(level, float(run.params["t1"])))
    explain_cell.render(run, level)  # teach: follow one cell (ui/views/explain_cell.py)
    st.plotly_chart(proposals_figure(run, level), width="stretch", key="pyr_props")
    st.plotly_chart(plots.proposals_per_scale_figure(trace.scales, i), width="stretch", key="pyr_chart")


def _level_image(run, level):
    pic = nets_input.level_picture(run.sha, level, run.bgr)
    st.image(pic, caption=f"PNet input at level {level.index}: {level.width}×{level.height} px", width="stretch")


def _heatmap(run, level):
    if level.heatmap is None:
        st.caption("No heatmap recorded for this level.")
        return
    fig = plots.heatmap_figure(
        level.heatmap,
        level.scale,
        float(run.params["t1"]),
        title="PNet P(face) per cell (cyan: t1)",
        px_height=heatmap_height(level.heatmap.shape),
    )
    explain_cell.add_click_targets(fig, level)  # teach: a click picks the cell to explain
    st.plotly_chart(
        fig, width="stretch", key="pyr_heat", theme=None, **explain_cell.heatmap_chart_kwargs(level)
    )  # teach: click a cell to explain it


def heatmap_height(shape, width_px: int = 560) -> int:
    """Figure height that fits a (h, w) map drawn about width_px wide, without empty bands."""
    h, w = shape
    return int(min(max(width_px * h / max(w, 1) + 90, 240), 560))


def proposals_figure(run, level):
    """This level's proposals on the original image: every cell ≥ t1 (faded) and the NMS survivors."""
    fig = overlay.image_figure(
        run, title=f"Level {level.index} proposals on the original image", px_height=overlay.fit_height(run, 760)
    )
    cand = level.candidates
    if cand is not None and len(cand):
        gone = np.ones(len(cand), bool)
        if level.nms is not None:
            gone = level.nms.fate != core.KEPT
        plots.add_boxes(
            fig,
            cand.boxes[gone],
            f"≥ t1, removed by NMS 0.5 ({int(gone.sum())})",
            "#ff5c5c",
            width=1.5,
            opacity=0.9,
            dash="dot",
        )
    plots.add_boxes(fig, level.kept.boxes, f"kept after NMS 0.5 ({len(level.kept)})", "#2ec27e", width=2)
    if len(level.kept):
        texts = [
            f"kept #{k}: P={np.format_float_positional(s, trim='-')}<br>"
            f"x={b[0]:.0f} y={b[1]:.0f} w={b[2]:.0f} h={b[3]:.0f}"
            for k, (b, s) in enumerate(zip(level.kept.boxes, level.kept.scores))
        ]
        plots.add_box_hover(fig, level.kept.boxes, texts, "kept", colour="#2ec27e")
    return fig
