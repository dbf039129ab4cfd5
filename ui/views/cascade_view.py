"""Cascade page: step through the stages, see every box's fate, inspect one box's crop and regression."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from .. import core
from ..figures import cascade_model as cm
from ..figures import draw, plots
from . import explain_box, nets_input, overlay

STAGE_KEY, BOX_KEY = "cascade_stage", "cascade_box"
#: Which (image, parameters, stage) the inspected box index refers to, and the table's version
#: (a new version is a new table widget: its tick is cleared when the selector moves away).
BOX_OWNER, TABLE_VERSION = "_cascade_box_for", "_cascade_table_version"
FADED = {
    core.BELOW_THRESHOLD: ("#d0d0d0", "below threshold"),
    core.SUPPRESSED: ("#ff5c5c", "suppressed by NMS"),
    core.CAPPED: ("#b57bff", "cut by the app's box cap"),
}
SELECTED_COLOUR = "#ffffff"


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
    selected = selected_box(run, sb)
    st.plotly_chart(stage_figure(run, sb, selected), width="stretch", key="cascade_fig")
    _table_and_box(run, sb, selected)
    st.plotly_chart(plots.funnel_figure(cm.funnel_counts(trace), current=name), width="stretch", key="cascade_funnel")
    if len(sb):  # teach: follow the selected box (ui/views/explain_box.py)
        explain_box.render(run, name, int(st.session_state.get(BOX_KEY, 0)))


def selected_box(run, sb: cm.StageBoxes) -> int | None:
    """The inspected box: one index in session state for table and selector alike, reset to the
    first box when the image, the parameters or the stage change (an index means another box)."""
    ss = st.session_state
    owner = (run.key, sb.name, len(sb))
    if ss.get(BOX_OWNER) != owner or not 0 <= ss.get(BOX_KEY, 0) < max(len(sb), 1):
        ss[BOX_OWNER] = owner
        ss[BOX_KEY] = 0
        ss[TABLE_VERSION] = ss.get(TABLE_VERSION, 0) + 1
    return int(ss[BOX_KEY]) if len(sb) else None


def stage_figure(run, sb: cm.StageBoxes, selected: int | None = None) -> go.Figure:
    """The image with the stage's kept boxes coloured by score, the rejected ones dotted (visible,
    in their own colours) and the inspected box outlined in white."""
    fig = overlay.image_figure(run, px_height=overlay.fit_height(run, 760))
    kept = sb.fate == core.KEPT
    for fate, (colour, label) in FADED.items():
        sel = sb.fate == fate
        if sel.any():
            plots.add_boxes(
                fig, sb.boxes[sel], f"{label} ({int(sel.sum())})", colour, width=1.5, opacity=0.9, dash="dot"
            )
    if kept.any():
        plots.add_scored_boxes(fig, sb.boxes[kept], sb.scores[kept], "kept")
    if selected is not None and 0 <= selected < len(sb):
        plots.add_boxes(fig, sb.boxes[selected : selected + 1], f"inspected #{selected}", SELECTED_COLOUR, width=4)
    if len(sb):
        texts = [f"#{i}: {sb.score_label} {cm.full_score(s)}<br>{cm.fate_text(sb, i)}" for i, s in enumerate(sb.scores)]
        plots.add_box_hover(fig, sb.boxes, texts, sb.name, scores=sb.scores, showscale=True)
    return fig


def table_key() -> str:
    return f"cascade_table_{st.session_state.get(TABLE_VERSION, 0)}"


def on_table_select(key: str):
    """Clicking a table row selects that box for inspection (the same state as the selector)."""
    event = st.session_state.get(key)
    rows = getattr(getattr(event, "selection", None), "rows", None) or []
    if rows:
        st.session_state[BOX_KEY] = int(rows[0])


def on_selector_change():
    """The selector moved: a new table widget, so no row stays ticked for another box."""
    st.session_state[TABLE_VERSION] = st.session_state.get(TABLE_VERSION, 0) + 1


def table_columns() -> dict:
    """Column formats: 4 decimals of every coordinate (1022.2139 fits), full float32 scores,
    and room for the fate text."""
    cfg = {
        c: st.column_config.NumberColumn(c, format="%.4f", width=w) for c, w in cm.TABLE_WIDTHS.items() if c in "xywh"
    }
    cfg["#"] = st.column_config.NumberColumn("#", format="%d", width=cm.TABLE_WIDTHS["#"])
    cfg["score"] = st.column_config.NumberColumn("score", format="%.7f", width=cm.TABLE_WIDTHS["score"])
    cfg["fate"] = st.column_config.TextColumn("fate", width=cm.TABLE_WIDTHS["fate"])
    return cfg


def _table_and_box(run, sb: cm.StageBoxes, selected: int | None):
    if not len(sb):
        st.info(cm.empty_stage_note(sb.name))
        return
    key = table_key()
    st.dataframe(
        pd.DataFrame(cm.stage_rows(sb)),
        hide_index=True,
        width="stretch",
        height=320,
        key=key,
        on_select=lambda: on_table_select(key),
        selection_mode="single-row",
        column_config=table_columns(),
        column_order=cm.TABLE_ORDER,
    )
    st.caption("Click a column header to sort, a row to inspect that box (outlined in white above).")
    i = st.selectbox(
        "Inspect box",
        range(len(sb)),
        key=BOX_KEY,
        on_change=on_selector_change,
        format_func=lambda k: f"#{k}  {cm.full_score(sb.scores[k])}  {cm.fate_text(sb, k)}",
    )
    _box_detail(run, sb, int(i))


def _box_detail(run, sb: cm.StageBoxes, i: int):
    box = sb.boxes[i]
    st.markdown(
        f"**#{i}** at ({box[0]:.0f}, {box[1]:.0f}) size {box[2]:.0f}×{box[3]:.0f} — "
        f"{sb.score_label} **{cm.full_score(sb.scores[i])}**, {cm.fate_text(sb, i)}"
    )
    cols = st.columns([1, 2])
    if sb.crop_size:
        x = nets_input.crop(run.sha, tuple(float(v) for v in box), sb.crop_size, run.bgr)
        cols[0].image(
            draw.crop_preview(x, scale=max(2, 144 // sb.crop_size)),
            caption=f"{sb.crop_size}×{sb.crop_size} net input (crop_input)",
        )
    if sb.corrections is not None:
        cols[1].plotly_chart(
            regression_figure(run, box, sb.corrections[i], sb.add1), width="stretch", key="cascade_reg"
        )
        dx1, dy1, dx2, dy2 = sb.corrections[i]
        cols[1].caption(
            f"regression dx1={dx1:+.3f} dy1={dy1:+.3f} dx2={dx2:+.3f} dy2={dy2:+.3f} (fractions of the box size)"
        )


def regression_figure(run, box, corr, add1: bool = False) -> go.Figure:
    """A zoom on one box with arrows showing how the regression moves each edge."""
    fig = overlay.image_figure(run, px_height=320)
    plots.add_boxes(fig, [box], "box", "#ffd60a", width=2)
    plots.add_boxes(fig, [cm.corrected_box(box, corr, add1)], "after regression", "#00e5ff", width=2, dash="dash")
    plots.add_arrows(fig, cm.regression_arrows(box, corr, add1))
    x, y, w, h = (float(v) for v in box)
    m = 0.6 * max(w, h) + 4
    fig.update_xaxes(range=[x - m, x + w + m])
    fig.update_yaxes(range=[y + h + m, y - m])
    fig.update_layout(showlegend=False)
    return fig
