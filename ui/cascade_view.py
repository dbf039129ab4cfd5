"""Cascade page: step through the stages, see every box's fate, inspect one box's crop and regression."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from . import cascade_model as cm
from . import core, draw, explain_box, figures, nets_input, overlay

STAGE_KEY, BOX_KEY = "cascade_stage", "cascade_box"
FADED = {core.BELOW_THRESHOLD: ("#9a9a9a", "below threshold"),
         core.SUPPRESSED: ("#ff6b6b", "suppressed by NMS")}


def step_stage(delta: int):
    """Prev/next callback over cm.STAGES."""
    i = cm.STAGES.index(st.session_state.get(STAGE_KEY, cm.STAGES[0]))
    st.session_state[STAGE_KEY] = cm.STAGES[min(max(i + delta, 0), len(cm.STAGES) - 1)]


def render(run):
    """Page body."""
    trace = run.trace
    if not trace.has_stages:
        st.info("This trace has no stages.")
        return
    st.session_state.setdefault(STAGE_KEY, cm.STAGES[0])
    c1, c2, c3 = st.columns([1.3, 7, 1.3])
    c1.button("◀ Prev", on_click=step_stage, args=(-1,), key="cascade_prev", width="stretch")
    c3.button("Next ▶", on_click=step_stage, args=(1,), key="cascade_next", width="stretch")
    c2.select_slider("Stage", cm.STAGES, key=STAGE_KEY)
    name = st.session_state[STAGE_KEY]
    sb = cm.stage_boxes(trace, name)
    st.markdown(f"**{name}** — {cm.EXPLAIN[name]}")
    if not sb.fates_known and name != "final":
        st.caption("This trace does not record which NMS removed which box (C++ traces don't).")
    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(stage_figure(run, sb), width="stretch", key="cascade_fig")
    with right:
        st.plotly_chart(figures.funnel_figure(cm.funnel_counts(trace), current=name),
                        width="stretch", key="cascade_funnel")
    _table_and_box(run, sb)
    if len(sb):   # teach: follow the selected box (ui/explain_box.py)
        explain_box.render(run, name, int(st.session_state.get(BOX_KEY, 0)))


def stage_figure(run, sb: cm.StageBoxes) -> go.Figure:
    """The image with the stage's kept boxes coloured by score and the rejected ones faded."""
    fig = overlay.image_figure(run, px_height=520)
    kept = sb.fate == core.KEPT
    for fate, (colour, label) in FADED.items():
        sel = sb.fate == fate
        if sel.any():
            figures.add_boxes(fig, sb.boxes[sel], f"{label} ({int(sel.sum())})", colour, width=1,
                              opacity=0.5, dash="dot")
    if kept.any():
        figures.add_scored_boxes(fig, sb.boxes[kept], sb.scores[kept], "kept")
    if len(sb):
        texts = [f"#{i}: {sb.score_label} {s:.4f}<br>{cm.fate_text(sb, i)}"
                 for i, s in enumerate(sb.scores)]
        figures.add_box_hover(fig, sb.boxes, texts, sb.name, scores=sb.scores, showscale=True)
    return fig


def on_table_select():
    """Clicking a table row selects that box for inspection."""
    event = st.session_state.get("cascade_table")
    rows = getattr(getattr(event, "selection", None), "rows", None) or []
    if rows:
        st.session_state[BOX_KEY] = int(rows[0])


def _table_and_box(run, sb: cm.StageBoxes):
    if not len(sb):
        st.info("No boxes at this stage.")
        return
    left, right = st.columns([1, 1])
    with left:
        st.dataframe(pd.DataFrame(cm.stage_rows(sb)), hide_index=True, width="stretch", height=320,
                     key="cascade_table", on_select=on_table_select, selection_mode="single-row")
        st.caption("Click a column header to sort, a row to inspect that box.")
    with right:
        if st.session_state.get(BOX_KEY, 0) >= len(sb):
            st.session_state[BOX_KEY] = 0
        i = st.selectbox("Inspect box", range(len(sb)), key=BOX_KEY,
                         format_func=lambda k: f"#{k}  {sb.scores[k]:.4f}  {cm.fate_text(sb, k)}")
        _box_detail(run, sb, int(i))


def _box_detail(run, sb: cm.StageBoxes, i: int):
    box = sb.boxes[i]
    st.markdown(f"**#{i}** at ({box[0]:.0f}, {box[1]:.0f}) size {box[2]:.0f}×{box[3]:.0f} — "
                f"{sb.score_label} **{sb.scores[i]:.4f}**, {cm.fate_text(sb, i)}")
    cols = st.columns(2)
    if sb.crop_size:
        x = nets_input.crop(run.sha, tuple(float(v) for v in box), sb.crop_size, run.bgr)
        cols[0].image(draw.crop_preview(x, scale=max(2, 144 // sb.crop_size)),
                      caption=f"{sb.crop_size}×{sb.crop_size} net input (crop_input)")
    if sb.corrections is not None:
        cols[1].plotly_chart(regression_figure(run, box, sb.corrections[i], sb.add1),
                             width="stretch", key="cascade_reg")
        dx1, dy1, dx2, dy2 = sb.corrections[i]
        cols[1].caption(f"regression dx1={dx1:+.3f} dy1={dy1:+.3f} dx2={dx2:+.3f} dy2={dy2:+.3f} "
                        "(fractions of the box size)")


def regression_figure(run, box, corr, add1: bool = False) -> go.Figure:
    """A zoom on one box with arrows showing how the regression moves each edge."""
    fig = overlay.image_figure(run, px_height=320)
    figures.add_boxes(fig, [box], "box", "#ffd60a", width=2)
    figures.add_boxes(fig, [cm.corrected_box(box, corr, add1)], "after regression", "#00e5ff",
                      width=2, dash="dash")
    for x0, y0, x1, y1 in cm.regression_arrows(box, corr, add1):
        fig.add_annotation(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y",
                           showarrow=True, arrowhead=2, arrowwidth=2, arrowcolor="#00e5ff", text="")
    x, y, w, h = (float(v) for v in box)
    m = 0.6 * max(w, h) + 4
    fig.update_xaxes(range=[x - m, x + w + m])
    fig.update_yaxes(range=[y + h + m, y - m])
    fig.update_layout(showlegend=False)
    return fig
