"""Cached computation: decode once per image, load models once per set, detect once per
(image, parameters, model set, engine). Pages only read the resulting Trace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from .. import core

CACHE_TTL_S = 3600
PARAM_KEYS = ("min_face_size", "t1", "t2", "t3", "pyramid_factor")


@st.cache_resource(max_entries=4, show_spinner="Loading models…")
def get_models(folder: str | None, custom: bool = False):
    """The PNet/RNet/ONet set in `folder` (None = bundled models/; an upload's folder is private
    to its session and named at random); custom: allow a non-MTCNN (size-bounded) architecture."""
    return core.mc.load_models(folder, custom_architecture=custom)


@st.cache_resource(show_spinner=False)
def _compiled_kernels_ready() -> float:
    """Compile (first start on a machine) or load (later starts) the exact kernels once per
    server process, with a progress bar; returns the seconds it took."""
    bar = st.progress(0.0, text="Preparing the compiled exact kernels…")

    def progress(name: str, fraction: float):
        bar.progress(
            fraction,
            text=f"Preparing the compiled exact kernels: {name} (compiled once per "
            "machine, ~10 s; later starts load them from the cache)",
        )

    seconds = core.mc.kernels.warm_up(progress)
    bar.empty()
    return seconds


def kernels_ready():
    """Make sure the compiled kernels are loaded; say so plainly when they cannot be."""
    if core.mc.kernels.COMPILED_ERROR is not None:
        st.sidebar.warning(
            "The compiled kernels are unavailable ("
            + core.mc.kernels.COMPILED_ERROR
            + "): results are still exact, from the numpy reference kernels, but 10-20x "
            "slower. Fix: `pip install -r requirements.txt` (numba)."
        )
        return
    _compiled_kernels_ready()


@st.cache_data(max_entries=8, ttl=CACHE_TTL_S, show_spinner=False)
def decoded_image(image_sha: str, _data: bytes) -> tuple[np.ndarray, list]:
    """(BGR uint8 image, decoder notes), keyed by the bytes' SHA-256."""
    return core.decode_image(_data)


@st.cache_data(max_entries=8, ttl=CACHE_TTL_S, show_spinner=False)
def rgb_image(image_sha: str, _data: bytes) -> np.ndarray:
    """The image as RGB for display (cached so pages do not re-convert it)."""
    bgr, _ = decoded_image(image_sha, _data)
    return np.ascontiguousarray(bgr[:, :, ::-1])


@st.cache_data(max_entries=16, ttl=CACHE_TTL_S, show_spinner=False)
def run_detection(
    image_sha: str,
    params: tuple,
    model_folder: str | None,
    engine: str,
    _data: bytes,
    custom: bool = False,
    cpp_build: str = "avx512",
    box_cap: int | None = None,
):
    """The Trace of one run, computed once per (image bytes, parameters, model set, engine, build,
    box cap).
    Shared by every session with the same bytes, so it records no file name (state.current_run
    puts the session's own name on its copy).

    A progress bar is drawn inside so Streamlit can replay (then clear) it on cache hits.
    """
    bgr, _ = decoded_image(image_sha, _data)
    bar = st.empty()

    def progress(stage: str, fraction: float):
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=f"Detecting faces: {stage}")

    models = get_models(model_folder, custom)
    trace = core.mc.detect(
        bgr,
        models=models,
        engine=engine,
        progress=progress,
        threads=core.mc.kernels.MAX_THREADS,
        cpp_build=cpp_build,
        image_info={"file": "", "sha256": image_sha},
        box_cap=box_cap,
        **dict(zip(PARAM_KEYS, params)),
    )
    bar.empty()
    return trace


@st.cache_data(max_entries=16, ttl=CACHE_TTL_S, show_spinner=False)
def bundled_cpp_trace(path: str):
    """A C++ reference trace shipped in sample_images/cpp (with its heatmaps if present)."""
    return core.Trace.load(Path(path))


@st.cache_resource(max_entries=6, ttl=CACHE_TTL_S, show_spinner=False)
def forward_all(
    net_name: str, model_folder: str | None, engine: str, input_key: str, _x: np.ndarray, custom: bool = False
) -> list:
    """Every layer's output of one network on one input (Activations page), cached per input.
    A resource cache (shared, not copied per rerun): a big PNet level's maps reach ~100 MB."""
    net = getattr(get_models(model_folder, custom), net_name.lower())
    return [np.asarray(a) for a in net.forward(_x, engine=engine, return_all=True)]
