"""The sidebar shared by every page: image source, parameters, model set, engine."""

from __future__ import annotations

import streamlit as st

from .. import core, samples
from . import pipeline, quotas, state

#: gif/avif are accepted and detected, with a warning that OpenFace's OpenCV 4.6 cannot read them.
UPLOAD_TYPES = ["jpg", "jpeg", "png", "bmp", "webp", "tif", "tiff", "gif", "avif"]


def on_sample_chosen():
    """Selectbox callback: make the chosen sample the current image."""
    pick_sample(st.session_state.sample_choice)


def pick_sample(name: str):
    st.session_state.image = state.image_record(name, samples.sample_bytes(name), "sample")
    st.session_state.upload_error = None


def on_upload():
    """Uploader callback: accept a decodable image, else keep the current one and record why."""
    raw = st.session_state.get("uploader")
    up = quotas.kept(raw)
    if up is None:
        if raw is None:  # the user removed the file; else it is one already
            st.session_state.upload_error = None  # taken in (or dropped) and released
        return
    old = st.session_state.get("image") or {}
    freed = len(old.get("data", b"")) if old.get("source") == "upload" else 0
    problem = quotas.admit(up.name, up.size, replacing=freed)
    if problem is None:
        problem = accept_image(up.name, up.getvalue())
    if problem is None:
        st.session_state.image["file_id"] = up.file_id
    st.session_state.upload_error = problem
    quotas.release(up.file_id)  # kept once: in the session's image record, or not at all


def accept_image(name: str, data: bytes) -> str | None:
    """Make `data` the current image if it decodes; return a one-line error otherwise."""
    if not data:
        return f"{name}: the file is empty."
    record = state.image_record(name, data, "upload")
    try:
        pipeline.decoded_image(record["sha"], data)
    except core.MTCNNInputError as e:
        return f"{name}: {e}"
    except Exception as e:  # a decoder crash must not lose the current image
        return f"{name}: cannot be read as an image ({type(e).__name__})."
    st.session_state.image = record
    return None


def build_sidebar():
    """Draw the shared sidebar (called after st.navigation, see app.py)."""
    with st.sidebar:
        quotas.show_message()
        _image_source()
        _parameters()
        _engine_and_models()


def _image_source():
    st.header("Image")
    names = samples.sample_names()
    ss = st.session_state
    ss.setdefault("sample_choice", names[0])
    st.selectbox("Sample image", names, key="sample_choice", on_change=on_sample_chosen)
    img = ss.get("image")
    if img and img["name"] != ss.sample_choice or not img:
        st.button("Use this sample", on_click=pick_sample, args=(ss.sample_choice,))
    st.file_uploader(
        "…or upload an image",
        type=UPLOAD_TYPES,
        key="uploader",
        on_change=on_upload,
        help="JPEG, PNG, BMP, WebP or TIFF (GIF/AVIF too, which OpenFace itself "
        "cannot read); up to the server's upload limit "
        f"and {core.max_pixels():,} pixels.",
    )
    if img:
        st.caption(f"Current image: **{img['name']}** ({img['source']})")


def _parameters():
    st.header("Parameters")
    st.number_input(
        "Min face size (px)",
        min_value=12,
        max_value=4000,
        step=1,
        key="min_face_size",
        help="Smallest face searched for; the first pyramid scale is 12 / min face size.",
    )
    st.slider("t1 — PNet threshold", 0.0, 1.0, step=0.01, key="t1")
    st.slider("t2 — RNet threshold", 0.0, 1.0, step=0.01, key="t2")
    st.slider("t3 — ONet threshold", 0.0, 1.0, step=0.01, key="t3")
    st.number_input(
        "Pyramid factor",
        min_value=0.1,
        max_value=0.95,
        step=0.001,
        format="%.3f",
        key="pyramid_factor",
        help="Each pyramid level is this factor smaller than the last.",
    )
    st.button(
        "Reset to OpenFace defaults",
        on_click=state.reset_params,
        help="60 / 0.6 / 0.7 / 0.7 / 0.709, as in FaceDetectorMTCNN::DetectFaces.",
    )


def _engine_and_models():
    st.header("Engine & models")
    ss = st.session_state
    if ss.model_set not in ss.model_sets:
        ss.model_set = state.BUNDLED
    st.selectbox("Model set", list(ss.model_sets), key="model_set", help="Upload a custom .dat set on the Models page.")
    st.selectbox(
        "Engine",
        state.ENGINES,
        key="engine",
        help="exact: compiled kernels, bit for bit OpenFace's arithmetic (default); "
        "reference: the same bits from the slow numpy kernels; blas: this machine's "
        "BLAS, fast but not bit-exact.",
    )
    st.selectbox(
        "C++ build",
        state.CPP_BUILDS,
        key="cpp_build",
        format_func=lambda b: {
            "auto": "auto (match the C++ result)",
            "avx512": "AVX-512 CPUs (OpenBLAS SkylakeX)",
            "avx2": "AVX2 CPUs (OpenBLAS Haswell)",
        }[b],
        help="Which OpenFace build's last bits to reproduce: the same OpenFace gives other "
        "last bits on AVX-512 and on AVX2-only CPUs. auto runs the AVX-512 build and, "
        "on the C++ vs Python page, compares with whichever build the C++ result "
        "matches.",
    )
