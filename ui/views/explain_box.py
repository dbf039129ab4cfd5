"""'Follow one box' (Cascade page): why RNet/ONet gave a box its probability, and its fate.

Shows how the crop was cut (zero padding visible) and resized, every layer's maps, fc1's input
vector in the C++'s flatten order, logits -> P(face), regression, ONet's landmarks (computed and
discarded by the C++) and the box's fate at each stage. Numbers come from mtcnn_core.explain.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from mtcnn_core import explain as E

from ..figures import draw, imaging, plots
from ..figures import explain_figures as xf
from . import journey, occlusion, overlay, pipeline, state


def net_input_of(trace, stage: str, i: int):
    """(net name, input index) a Cascade stage's box i stands for, or (None, merged index) for a
    PNet proposal that never reached RNet; final faces map back to their ONet input."""
    if stage.startswith("RNet"):
        return "RNet", i
    if stage.startswith("ONet"):
        return "ONet", i
    if stage == "final":
        return "ONet", int(trace.onet.filtered.order[i])
    f = trace.merged_nms  # PNet merged: index into every level's kept boxes
    if f is None or f.fate[i] != 0:
        return None, i
    return "RNet", int(np.flatnonzero(np.asarray(f.order) == i)[0])


@st.cache_data(max_entries=32, ttl=3600, show_spinner=False)
def explanation(run_key: str, net_name: str, index: int, _run):
    """The BoxExplanation of one RNet/ONet input (cached per run, network and box)."""
    models = pipeline.get_models(_run.model_folder, state.custom_architecture())
    return E.explain_box(_run.trace, _run.bgr, net_name, index, models.network(net_name), _run.engine)


def render(run, stage: str, i: int):
    """The 'Follow one box' section for box i of a Cascade stage."""
    trace = run.trace
    if trace.rnet is None or trace.rnet.filtered is None:
        return
    st.divider()
    st.subheader("Follow this box: why this probability, why kept or dropped?")
    net_name, k = net_input_of(trace, stage, i)
    if net_name is None:
        st.markdown(f"Proposal #{i} never reached RNet:")
        journey.render(E.journey_from_merged(trace, k), "What happened to this proposal")
        return
    st_ = trace.rnet if net_name == "RNet" else trace.onet
    if not 0 <= k < len(st_.input):
        return
    if stage == "PNet merged":
        st.caption(
            f"Proposal #{i} survived the NMS across levels: moved by PNet's regression and "
            f"squared, it became RNet input #{k}."
        )
    elif stage == "final":
        st.caption(f"Final face #{i} is ONet input #{k} after ONet's regression and OpenFace's box fix.")
    ex = explanation(run.key, net_name, k, run)
    verdict = "≥" if ex.prob >= np.float32(ex.threshold) else "<"
    tname = "t2" if net_name == "RNet" else "t3"
    st.markdown(f"### {net_name} input #{k}: P(face) = **{ex.prob:.6f}** {verdict} {tname} = {ex.threshold}")
    _crop(run, ex)
    _layers(ex)
    _head(ex)
    journey.render(ex.journey)
    occlusion.render(run, ex)


def _crop(run, ex):
    g = ex.geometry
    x, y, w, h = (int(v) for v in g.square)
    pad = g.pad_left + g.pad_top + g.pad_right + g.pad_bottom
    c1, c2, c3 = st.columns([1, 1, 1.3])
    buf = E.crop_buffer_preview(run.bgr, g)[:, :, ::-1]  # BGR -> RGB for display
    c1.image(
        imaging.display_png(np.ascontiguousarray(buf), nearest=True),
        width=220,
        caption=f"1. Cut: image columns {g.x0}…{g.x0 + g.width - 1}, rows {g.y0}…{g.y0 + g.height - 1} "
        f"({g.width}×{g.height} px); outside the image: zeros (black)"
        + (f" — here {g.pad_left}/{g.pad_top}/{g.pad_right}/{g.pad_bottom} px left/top/right/bottom" if pad else ""),
    )
    c2.image(
        imaging.display_png(draw.crop_preview(ex.x, scale=max(2, 216 // g.size)), nearest=True),
        width=220,
        caption=f"2. Resized to {g.size}×{g.size} (cv::resize, bilinear) and "
        "normalised (x − 127.5)/128: the net's input",
    )
    with c3:
        st.plotly_chart(box_figure(run, ex), width="stretch", key="xb_photo")
        st.caption(
            f"Yellow: the square {x},{y} {w}×{h}. Cyan: moved by {ex.net}'s regression"
            + (" (+1 size, ONet)" if ex.net == "ONet" else "")
            + "."
            + (
                " Magenta: ONet's five landmarks — computed, but discarded by OpenFace's C++."
                if ex.landmarks is not None
                else ""
            )
        )


def box_figure(run, ex):
    """The square on the photo, the regression arrows, the moved box and ONet's landmarks."""
    import plotly.graph_objects as go

    fig = overlay.image_figure(run, px_height=320)
    plots.add_boxes(fig, [ex.geometry.square], "square", "#ffd60a", width=3)
    plots.add_boxes(fig, [ex.corrected], "after regression", "#00e5ff", width=2, dash="dash")
    plots.add_arrows(fig, xf.edge_arrows(ex.geometry.square, ex.corrected))
    if ex.landmarks is not None:
        fig.add_trace(
            go.Scatter(
                x=ex.landmarks[:, 0],
                y=ex.landmarks[:, 1],
                mode="markers",
                marker=dict(size=9, color="#ff3cc8", line=dict(width=1, color="black")),
                text=list(E.LANDMARK_POINTS),
                name="landmarks (discarded by C++)",
                hovertemplate="%{text}: %{x:.1f}, %{y:.1f}<extra></extra>",
            )
        )
    fig.update_layout(showlegend=False)
    return xf.zoom(fig, [ex.geometry.square, ex.corrected], margin=0.3)


def _layers(ex):
    st.markdown(
        f"**Inside {ex.net}**: every layer's output for this crop (hover: channel, position, "
        "exact value; colour bar blue < 0 < red)."
    )
    names = [f"{s.layer}: {s.kind}" for s in ex.layers]
    tabs = st.tabs(names + ["fc1 input vector"])
    out_names = E.output_names(ex.net, ex.layers[-1].values.shape[0])
    for tab, s in zip(tabs, ex.layers):
        with tab:
            shape = "×".join(map(str, s.values.shape))
            if s.values.ndim == 3:
                fig = xf.maps_figure(s.values, f"layer {s.layer} ({s.kind}) — {shape}", px_height=420)
            else:
                last = s.layer == len(ex.layers) - 1
                fig = xf.vector_figure(
                    s.values, f"layer {s.layer} ({s.kind}) — {shape}", out_names if last else None, px_height=320
                )
            st.plotly_chart(fig, width="stretch", key=f"xb_layer_{s.layer}")
    with tabs[-1]:
        maps = ex.layers[ex.fc1_layer - 1].values
        st.plotly_chart(xf.fc1_input_figure(ex.fc1_input, ex.fc1_order, maps.shape), width="stretch", key="xb_fc1")
        ok = (
            "gives layer {}'s output bit for bit ✓".format(ex.fc1_layer)
            if ex.fc1_check
            else "does NOT give the layer's output ✗"
        )
        st.caption(
            f"The C++ reads each {maps.shape[1]}×{maps.shape[2]} map transposed (column by column) "
            f"before flattening: v[c·{maps.shape[1] * maps.shape[2]} + col·{maps.shape[1]} + row]. "
            f"fc1 applied to exactly this vector {ok}."
        )


def _head(ex):
    names = E.output_names(ex.net, len(ex.head))
    st.markdown("**From logits to P(face)** (OpenFace: `1 / (1 + expf(o0 − o1))`, the division in double)")
    st.markdown(
        f"| {names[0]} o0 | {names[1]} o1 | d = o0 − o1 | expf(d) | P(face) | recorded score |\n"
        f"|---|---|---|---|---|---|\n"
        f"| {ex.head[0]:.7g} | {ex.head[1]:.7g} | {ex.diff:.7g} | {ex.exp:.7g} | **{ex.prob:.7g}** | "
        f"{ex.trace_prob:.7g} |"
    )
    dx1, dy1, dx2, dy2 = (float(v) for v in ex.regression)
    c = ex.corrected
    st.markdown(
        f"**Regression**: dx1 = {dx1:+.4f}, dy1 = {dy1:+.4f}, dx2 = {dx2:+.4f}, dy2 = {dy2:+.4f} "
        f"→ box x={c[0]:.1f} y={c[1]:.1f} w={c[2]:.1f} h={c[3]:.1f}"
    )
    if ex.landmarks is not None:
        rows = [
            {
                "point": p,
                "x (px)": float(ex.landmarks[k, 0]),
                "y (px)": float(ex.landmarks[k, 1]),
                "raw x": float(ex.head[6 + k]),
                "raw y": float(ex.head[11 + k]),
            }
            for k, p in enumerate(E.LANDMARK_POINTS)
        ]
        st.markdown(
            "**ONet's landmarks** (outputs 6–15: fractions of the square, mapped to pixels). "
            "The C++ computes them and discards them; they are not part of its output."
        )
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="xb_landmarks")
