"""Session state: the current image, parameters, model set and engine (survive page switches),
and `current_run()`, the one Trace every page renders."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np
import streamlit as st

from .. import samples
from ..box_cap_notice import APP_BOX_CAP
from . import cost_gate, pipeline

ENGINES = ("exact", "reference", "blas")
BUNDLED = "bundled (models/)"
#: Sidebar choice of the C++ build to reproduce: 'auto' runs the AVX-512 build and lets the C++ vs
#: Python page compare with whichever build the C++ result matches; the others pin one.
CPP_BUILDS = ("auto", "avx512", "avx2")


@dataclass
class Run:
    """What a page needs: the image, the settings it was processed with and its Trace."""

    name: str
    sha: str
    data: bytes
    source: str  # 'sample' or 'upload'
    params: dict
    model_folder: str | None
    engine: str
    cpp_build: str  # the OpenFace build this run reproduces (avx512 / avx2)
    bgr: np.ndarray
    rgb: np.ndarray
    trace: object  # mtcnn_core Trace

    @property
    def key(self) -> str:
        """Cache key of this run for derived views (figures, downloads)."""
        p = ",".join(f"{self.params[k]}" for k in pipeline.PARAM_KEYS)
        name = hashlib.sha256(self.name.encode()).hexdigest()[:16]  # downloads carry the name
        return f"{self.sha}|{p}|{self.model_folder}|{self.engine}|{self.cpp_build}|{name}"


def image_record(name: str, data: bytes, source: str) -> dict:
    """The session's description of an image (bytes + SHA-256 used as the cache key)."""
    return {"name": name, "data": data, "sha": hashlib.sha256(data).hexdigest(), "source": source}


# Page-widget keys that must survive page switches (Streamlit drops the state of widgets that are
# not drawn in a run; re-assigning the key each run turns it into plain session state).
PERSISTENT_KEYS = (
    "pyr_level",
    "cascade_stage",
    "cascade_box",
    "show_landmarks",
    "cpp_source",
    "cpp_bundled_pick",
    "cpp_bundled_build",
    "tol_px",
    "tol_score",
    "compare_scale",
    "act_net",
    "act_level",
    "act_box",
    "act_colour",
    "act_layer",
)


def keep_page_state():
    """Carry page-specific widget values across page switches."""
    ss = st.session_state
    for key in PERSISTENT_KEYS:
        if key in ss:
            ss[key] = ss[key]


def init_state():
    """Defaults on a session's first run: the default sample, OpenFace's parameters, bundled models."""
    ss = st.session_state
    if "image" not in ss:
        ss.image = image_record(samples.DEFAULT_SAMPLE, samples.sample_bytes(samples.DEFAULT_SAMPLE), "sample")
    for key, value in samples.DEFAULT_PARAMS.items():
        ss.setdefault(key, value)
    if ss.get("engine") not in ENGINES:  # also an 'auto' kept from an earlier version
        ss.engine = "exact"
    if ss.get("cpp_build") not in CPP_BUILDS:
        ss.cpp_build = "auto"
    ss.setdefault("model_sets", {BUNDLED: None})
    ss.setdefault("model_set", BUNDLED)
    ss.setdefault("upload_error", None)
    ss.setdefault("model_error", None)


def reset_params():
    """Button callback: back to OpenFace's DetectFaces defaults (60 / 0.6 / 0.7 / 0.7 / 0.709)."""
    for key, value in samples.DEFAULT_PARAMS.items():
        st.session_state[key] = value


def current_params() -> dict:
    """The parameters as the detector takes them (int min face size, floats rounded to the UI step)."""
    ss = st.session_state
    return {
        "min_face_size": int(ss.min_face_size),
        "t1": round(float(ss.t1), 4),
        "t2": round(float(ss.t2), 4),
        "t3": round(float(ss.t3), 4),
        "pyramid_factor": round(float(ss.pyramid_factor), 4),
    }


def model_folder() -> str | None:
    """Folder of the chosen model set (None = bundled)."""
    ss = st.session_state
    return ss.model_sets.get(ss.model_set)


def custom_architecture() -> bool:
    """Whether the session's chosen (uploaded) model set was accepted as a custom architecture."""
    return model_folder() is not None and bool(st.session_state.get("model_custom_arch"))


def pinned_build() -> str:
    """The build the sidebar asks for ('auto' runs the default, AVX-512)."""
    build = st.session_state.get("cpp_build", "auto")
    return "avx512" if build == "auto" else build


def current_run(cpp_build: str | None = None) -> Run | None:
    """The current image processed with the current settings (cached), or None with no image;
    cpp_build overrides the sidebar's build (the C++ vs Python page runs the other one too)."""
    img = st.session_state.get("image")
    if not img:
        return None
    build = cpp_build or pinned_build()
    params, folder, engine = current_params(), model_folder(), st.session_state.engine
    bgr, notes = pipeline.decoded_image(img["sha"], img["data"])
    cost_key = f"{img['sha']}|{sorted(params.items())}|{folder}|{engine}"
    cost_gate.check(bgr.shape[0], bgr.shape[1], params, cost_key)  # before any level is made
    rgb = pipeline.rgb_image(img["sha"], img["data"])
    key = tuple(params[k] for k in pipeline.PARAM_KEYS)
    trace = pipeline.run_detection(
        img["sha"], key, folder, engine, img["data"], custom_architecture(), build, APP_BOX_CAP
    )
    trace = dataclasses.replace(
        trace, image={**trace.image, "file": img["name"]}, warnings=list(notes) + list(trace.warnings)
    )
    return Run(img["name"], img["sha"], img["data"], img["source"], params, folder, engine, build, bgr, rgb, trace)
