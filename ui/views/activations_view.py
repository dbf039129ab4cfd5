"""Activations page: every layer's feature maps for one real input, with kernels and PReLU slopes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ..figures import activations as act
from ..figures import draw, imaging
from . import nets_input, pipeline, state

NET_STAGE = {"RNet": ("rnet", 24), "ONet": ("onet", 48)}


def on_network_change():
    """A layer index means another layer in another network: start again at layer 0."""
    st.session_state.act_layer = 0


def render(run):
    """Page body."""
    net_name = st.radio(
        "Network", ("PNet", "RNet", "ONet"), horizontal=True, key="act_net", on_change=on_network_change
    )
    x, input_key, label = choose_input(run, net_name)
    if x is None:
        return
    models = pipeline.get_models(run.model_folder, state.custom_architecture())
    net = models.network(net_name)
    outs = pipeline.forward_all(net_name, run.model_folder, run.engine, input_key, x, state.custom_architecture())
    rows = layer_rows(net.describe(), x, outs)
    c1, c2 = st.columns([1, 2])
    c1.image(draw.crop_preview(x, scale=max(1, 192 // max(x.shape[-2:]))), caption=label)
    with c2:
        st.dataframe(
            layer_table(input_key, net_name, rows, outs),
            hide_index=True,
            width="stretch",
            height=35 * (len(rows) + 1) + 3,
        )  # every layer, no inner scrollbar
    mode = st.radio("Colour scale", act.COLOUR_MODES, horizontal=True, key="act_colour")
    if st.session_state.get("act_layer", 0) >= len(outs):
        st.session_state.act_layer = 0
    i = st.selectbox(
        "Layer",
        range(len(outs)),
        key="act_layer",
        format_func=lambda k: f"{k}: {rows[k]['kind']} → {rows[k]['output']}",
    )
    _layer(net_name, net.layers[i], i, rows[i], outs, mode, input_key)


def choose_input(run, net_name):
    """(input tensor, cache key, caption) for PNet at a pyramid level or RNet/ONet on a proposal."""
    trace = run.trace
    if net_name == "PNet":
        n = len(trace.scales or [])
        if not n:
            st.info("No pyramid level for these parameters.")
            return None, None, None
        if st.session_state.get("act_level", 0) >= n:
            st.session_state.act_level = 0
        k = st.selectbox(
            "Pyramid level",
            range(n),
            key="act_level",
            format_func=lambda j: (
                f"{j}: scale {trace.scales[j].scale:.4f} ({trace.scales[j].width}×{trace.scales[j].height})"
            ),
        )
        lvl = trace.scales[k]
        x = nets_input.pnet_level_input(run.sha, lvl.index, float(lvl.scale), run.bgr, lvl)
        return x, f"{run.key}|pnet|{k}", f"PNet input, level {k} ({lvl.width}×{lvl.height})"
    attr, size = NET_STAGE[net_name]
    boxes = getattr(trace, attr).input
    if not len(boxes):
        st.info(f"No box reached {net_name} on this image.")
        return None, None, None
    if st.session_state.get("act_box", 0) >= len(boxes):
        st.session_state.act_box = 0
    scores = getattr(trace, attr).scores
    j = st.selectbox(
        f"{net_name} input box",
        range(len(boxes)),
        key="act_box",
        format_func=lambda b: f"#{b}: {boxes.boxes[b][2]:.0f}px box, {net_name} P(face) {scores[b]:.4f}",
    )
    box = tuple(float(v) for v in boxes.boxes[j])
    x = nets_input.crop(run.sha, box, size, run.bgr)
    return x, f"{run.key}|{attr}|{j}", f"{net_name} input #{j} ({size}×{size} crop)"


def shape_text(a) -> str:
    """'CxHxW' (or 'N') of one sample of a layer input/output."""
    return "x".join(str(d) for d in np.asarray(a).shape[1:])


def layer_rows(described: list, x, outs) -> list[dict]:
    """net.describe() rows with the shapes of this actual input (PNet levels are not square)."""
    ins = [x] + list(outs[:-1])
    return [{**r, "input": shape_text(i), "output": shape_text(o)} for r, i, o in zip(described, ins, outs)]


@st.cache_data(max_entries=32, ttl=3600, show_spinner=False)
def layer_table(input_key: str, net_name: str, _rows, _outs) -> pd.DataFrame:
    """Per layer: kind, output shape, parameter count, value range (cached per input)."""
    return pd.DataFrame(
        [
            {
                "layer": r["index"],
                "kind": r["kind"],
                "output": r["output"],
                "parameters": r["parameters"],
                "min": float(np.min(o)),
                "max": float(np.max(o)),
            }
            for r, o in zip(_rows, _outs)
        ]
    )


@st.cache_data(max_entries=64, ttl=3600, show_spinner=False)
def feature_grid_png(input_key: str, net_name: str, i: int, mode: str, _outs) -> bytes:
    """The tiled, coloured feature maps of layer i as display-sized PNG bytes (cached)."""
    maps = act.as_maps(_outs[i])
    grange = act.value_range(_outs) if mode == "global" else None
    return imaging.display_png(act.upscale(act.tile(act.normalise(maps, mode, grange))), nearest=True)


@st.cache_data(max_entries=256, ttl=3600, show_spinner=False)
def layer_range(input_key: str, net_name: str, i: int, _outs) -> tuple[float, float]:
    """(min, max) of layer i's output for this input."""
    return float(np.min(_outs[i])), float(np.max(_outs[i]))


def _layer(net_name, layer, i, row, outs, mode, input_key):
    st.caption(act.layer_caption(net_name, i, layer, row["input"], row["output"]))
    maps = act.as_maps(outs[i])
    lo, hi = layer_range(input_key, net_name, i, outs)
    st.image(
        feature_grid_png(input_key, net_name, i, mode, outs),
        caption=f"{maps.shape[0]} map(s) of {maps.shape[1]}×{maps.shape[2]}, "
        f"values {lo:.3g} … {hi:.3g} (colour: {mode}, dark = low, yellow = high)",
    )
    st.image(act.colour_bar())
    st.caption(act.scale_text(mode, (lo, hi), act.value_range(outs)))
    names = act.channel_names(net_name, i, len(outs), outs[i].shape[1])  # (N, C, H, W) or (N, F)
    if names:
        st.markdown(
            "**Output channels** (in map order): " + " · ".join(f"{k} = {name}" for k, name in enumerate(names))
        )
    if layer.kind == "conv":
        kg, cap = act.kernel_grid(layer.weight)
        st.image(act.upscale(kg, 240), caption=f"Kernels: {cap}")
    if layer.kind == "prelu":
        st.plotly_chart(slope_figure(layer.slope), width="stretch", key="act_slopes")


def slope_figure(slope) -> go.Figure:
    """PReLU slopes per channel as bars."""
    s = np.asarray(slope).ravel()
    fig = go.Figure(go.Bar(x=list(range(len(s))), y=s))
    fig.update_layout(
        height=220,
        margin=dict(l=0, r=0, t=30, b=0),
        title="PReLU slopes per channel",
        xaxis_title="channel",
        yaxis_title="slope for negative inputs",
    )
    return fig
