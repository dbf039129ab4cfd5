"""Guided tour: the cascade on the current image in seven steps, one figure each, with the
interesting element highlighted; ◀/▶ buttons (keyboard: left/right arrows) step through."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from .. import core
from ..figures import cascade_model as cm
from ..figures import plots
from . import cascade_view, overlay

KEY = "tour_step"
TITLES = (
    "1. The image pyramid",
    "2. PNet's heatmap",
    "3. Proposals",
    "4. Non-maximum suppression",
    "5. RNet",
    "6. ONet",
    "7. The final box fix",
)
HIGHLIGHT = "#ff9f1c"
BIG = 640


def strongest(trace) -> tuple[int, int, int]:
    """(level, row, col) of the highest PNet probability over all levels."""
    best = max(trace.scales, key=lambda s: float(s.heatmap.max()))
    r, c = np.unravel_index(int(np.argmax(best.heatmap)), best.heatmap.shape)
    return best.index, int(r), int(c)


def notable_drop(sb: cm.StageBoxes):
    """Index of the highest-scoring box this stage dropped (suppressed first), or None."""
    for fate in (core.SUPPRESSED, core.BELOW_THRESHOLD):
        idx = np.flatnonzero(sb.fate == fate)
        if idx.size:
            return int(idx[np.argmax(sb.scores[idx])])
    return None


def step(delta: int):
    st.session_state[KEY] = int(min(max(st.session_state.get(KEY, 0) + delta, 0), len(TITLES) - 1))


def render(run):
    """Page body."""
    trace = run.trace
    if not trace.scales:
        st.info("No pyramid level for these parameters: nothing to tour.")
        return
    st.session_state.setdefault(KEY, 0)
    c1, c2, c3 = st.columns([1.2, 6, 1.2])
    c1.button("◀ Back", on_click=step, args=(-1,), key="tour_back", width="stretch", shortcut="ArrowLeft")
    c3.button("Next ▶", on_click=step, args=(1,), key="tour_next", width="stretch", shortcut="ArrowRight")
    i = int(st.session_state[KEY])
    c2.markdown(
        f"**Step {i + 1} of {len(TITLES)}** — "
        + " · ".join(f"**{t.split('. ')[1]}**" if k == i else t.split(". ")[1] for k, t in enumerate(TITLES))
        + "  \n:grey[keyboard: ← →]"
    )
    st.header(TITLES[i])
    caption, fig = STEPS[i](run)
    st.markdown(f"<div style='font-size:1.35rem;line-height:1.5'>{caption}</div>", unsafe_allow_html=True)
    st.plotly_chart(fig, width="stretch", key=f"tour_fig_{i}", theme=None if i == 1 else "streamlit")


def _pyramid(run):
    t = run.trace
    lv, _, _ = strongest(t)
    s = t.scales[lv]
    fig = plots.proposals_per_scale_figure(t.scales, lv)
    fig.update_layout(height=BIG)
    return (
        f"The detector looks for faces of one size only: 12×12 pixels. So it shrinks the photo into "
        f"<b>{len(t.scales)} levels</b> (each {t.params['pyramid_factor']} times the previous); on level "
        f"<i>k</i> a 12-px window covers a face of about 12/scale px. Highlighted: level {lv} "
        f"({s.width}×{s.height} px, faces of ≈{12 / s.scale:.0f} px), where PNet is most sure of a face."
    ), fig


def _heatmap(run):
    t = run.trace
    lv, r, c = strongest(t)
    s = t.scales[lv]
    fig = plots.heatmap_figure(
        s.heatmap, s.scale, float(t.params["t1"]), px_height=BIG, title=f"Level {lv}: P(face) per 12×12 window"
    )
    k = plots.display_factor(s.heatmap.shape)
    fig.add_trace(
        go.Scatter(
            x=[c // k],
            y=[r // k],
            mode="markers",
            showlegend=False,
            hoverinfo="skip",
            marker=dict(size=22, color="rgba(0,0,0,0)", line=dict(color=HIGHLIGHT, width=3)),
        )
    )
    return (
        f"PNet slides over the level every 2 px and gives each window a face probability: one cell "
        f"of this heatmap per window. Circled: the strongest cell, row {r}, column {c}, P(face) = "
        f"<b>{float(s.heatmap[r, c]):.4f}</b>. Cells above t1 = {t.params['t1']} (cyan contour) become "
        f"proposals. (Pyramid & PNet page: click any cell to see how its number was computed.)"
    ), fig


def _proposals(run):
    t = run.trace
    fig = overlay.image_figure(run, px_height=BIG)
    n = 0
    for s in t.scales:
        if s.candidates is not None and len(s.candidates):
            plots.add_boxes(
                fig, s.candidates.boxes, f"level {s.index}", "#2ec27e", width=1, opacity=0.5, showlegend=False
            )
            n += len(s.candidates)
    lv, r, c = strongest(t)
    s = t.scales[lv]
    k = int(np.flatnonzero((s.cells[:, 0] == r) & (s.cells[:, 1] == c))[0])
    plots.add_boxes(fig, [s.candidates.boxes[k]], "strongest", HIGHLIGHT, width=4)
    return (
        f"Every cell ≥ t1 is mapped back to a box on the photo: <b>{n} proposals</b> over all levels. "
        f"Highlighted: the strongest cell's box. Most proposals overlap: one face fires many "
        f"neighbouring windows on several levels."
    ), fig


def _stage(run, name, text):
    sb = cm.stage_boxes(run.trace, name)
    fig = cascade_view.stage_figure(run, sb)
    fig.update_layout(height=BIG)
    j = notable_drop(sb)
    extra = ""
    if j is not None:
        plots.add_boxes(fig, [sb.boxes[j]], "highlighted", HIGHLIGHT, width=4)
        extra = f" Highlighted: #{j} (score {float(sb.scores[j]):.4f}), {cm.fate_text(sb, j)}."
        by = int(sb.suppressed_by[j])
        if sb.fate[j] == core.SUPPRESSED and by >= 0:
            plots.add_boxes(fig, [sb.boxes[by]], "suppressor", "white", width=4, dash="dot")
            extra += f" Dotted white: #{by}, the box that removed it."
    kept = int((sb.fate == core.KEPT).sum())
    return f"{text} <b>{kept} of {len(sb)}</b> kept.{extra}", fig


def _nms(run):
    return _stage(
        run,
        "PNet merged",
        "Overlapping proposals are merged by non-maximum suppression: keep "
        "the highest score, drop every box overlapping it by IoU > 0.5 (within a level), then "
        "> 0.7 (across levels).",
    )


def _rnet(run):
    return _stage(
        run,
        "RNet kept",
        f"Each survivor is cut out, resized to 24×24 and scored again by "
        f"RNet; boxes under t2 = {run.trace.params['t2']} (grey) are dropped, then NMS 0.7.",
    )


def _onet(run):
    return _stage(
        run,
        "ONet kept",
        f"ONet looks at 48×48 crops: under t3 = {run.trace.params['t3']} is "
        "dropped; its regression tightens each box, then NMS 0.7 on intersection over the "
        "smaller box. (Cascade page: follow any box, or see which pixels made it a face.)",
    )


def _final(run):
    t = run.trace
    fig = overlay.image_figure(run, px_height=BIG)
    plots.add_boxes(fig, t.onet.kept.boxes, "ONet boxes", "#00e5ff", width=2, dash="dash")
    plots.add_boxes(fig, t.detections.boxes, "final faces", HIGHLIGHT, width=4)
    return (
        f"OpenFace finally shifts and shrinks each ONet box by fixed factors (x − 0.0075·w, "
        f"y + 0.2459·h, 1.0323·w, 0.7751·h) to fit its landmark detector: dashed cyan → orange. "
        f"<b>{len(t.detections)} face(s)</b>."
    ), fig


STEPS = (_pyramid, _heatmap, _proposals, _nms, _rnet, _onet, _final)
