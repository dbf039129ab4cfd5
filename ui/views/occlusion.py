"""'Why is this a face?': an occlusion-sensitivity map for one RNet/ONet input box.

A grey patch (pixel value 127.5, i.e. 0 in the normalised input) slides over the net's input;
each position's P(face) comes from the core (mtcnn_core.explain.occlusion_map), no gradients.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from mtcnn_core import explain as E

from ..figures import draw, imaging
from ..figures import explain_figures as xf
from . import pipeline, state

PATCH, STRIDE = "occ_patch", "occ_stride"


@st.cache_data(max_entries=16, ttl=3600, show_spinner="Sliding the patch…")
def occlusion(run_key: str, net_name: str, index: int, patch: int, stride: int, _run, _x):
    """OcclusionMap of one net input (cached per run, box, patch size and stride)."""
    net = pipeline.get_models(_run.model_folder, state.custom_architecture()).network(net_name)
    return E.occlusion_map(_x, net, _run.engine, patch, stride, net_name)


def render(run, ex):
    """Controls and maps for the explained box `ex` (a BoxExplanation)."""
    size = ex.geometry.size
    st.markdown(
        f"**Why is this a face? Occlusion sensitivity.** A grey patch hides part of the "
        f"{size}×{size} input; where {ex.net}'s P(face) falls most, the network was looking."
    )
    ss = st.session_state
    ss.setdefault(PATCH, max(2, size // 4))
    ss.setdefault(STRIDE, max(1, size // 8))
    ss[PATCH] = int(min(max(ss[PATCH], 2), size))
    ss[STRIDE] = int(min(max(ss[STRIDE], 1), size))
    c1, c2 = st.columns(2)
    c1.slider("Patch size (px of the net input)", 2, size, key=PATCH)
    c2.slider("Stride (px)", 1, size, key=STRIDE)
    try:
        om = occlusion(run.key, ex.net, ex.index, int(ss[PATCH]), int(ss[STRIDE]), run, ex.x)
    except ValueError as e:
        st.error(str(e))
        return
    left, right = st.columns([1, 1.4])
    left.image(
        imaging.display_png(draw.crop_preview(ex.x, scale=max(2, 288 // size)), nearest=True),
        width=288,
        caption=f"{ex.net} input #{ex.index}",
    )
    with right:
        st.plotly_chart(
            xf.occlusion_figure(
                om.pixel_drop, f"Mean drop in P(face) per pixel ({len(om.starts) ** 2} patch positions)"
            ),
            width="stretch",
            key="occ_map",
        )
    a, b = np.unravel_index(int(np.argmax(om.drop)), om.drop.shape)
    st.caption(
        f"Without a patch: P(face) = {om.base:.6f} (the stage score, {ex.trace_prob:.6f}). "
        f"Largest drop: {float(om.drop[a, b]):.4f} with the patch at row {om.starts[a]}, column "
        f"{om.starts[b]} (P(face) {float(om.scores[a, b]):.4f}). Lowest P(face) anywhere: "
        f"{float(om.scores.min()):.4f}."
    )
