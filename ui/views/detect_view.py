"""Detect page: final boxes on the image, stage metrics, timing and downloads."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import streamlit as st

from .. import core
from ..figures import draw, imaging, stages

SMALLER_THAN_MIN_FACE = (
    "Why a box can be smaller than the min face size: the cascade finds square face windows of "
    "at least that size, then OpenFace's final fix tightens each box around the landmarks "
    "(width × 1.0323, height × 0.7751, shifted down), so a final box is about 22 % shorter than "
    "the window that found it."
)
LANDMARK_NOTE = "ONet's 5 landmarks — computed by ONet but discarded by OpenFace's C++ (not C++ output)"


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def annotated_png(run_key: str, landmarks: bool, display: bool, _rgb: np.ndarray, _trace) -> bytes:
    """The image with final boxes (and optionally landmarks) as PNG bytes, cached per run:
    full resolution for the download, or shrunk to the page width for display."""
    d = _trace.detections
    rgb, f = imaging.shrink(_rgb) if display else (_rgb, 1.0)  # draw at the size shown
    im = draw.draw_boxes(rgb, d.boxes * f, d.scores)
    if landmarks and _trace.onet is not None and _trace.onet.landmarks is not None:
        draw.draw_landmarks(im, final_landmarks(_trace) * f, face_sizes=d.boxes[:, 2] * f)
    return imaging.display_jpeg(im) if display else draw.png_bytes(im)


def final_landmarks(trace) -> np.ndarray:
    """Landmarks of the ONet-kept boxes (rows of onet.landmarks may cover all ONet inputs)."""
    lm = np.asarray(trace.onet.landmarks)
    if len(lm) == len(trace.detections):
        return lm
    f = trace.onet.filtered
    if f is not None and len(lm) == len(f.fate):
        return lm[np.asarray(f.order, dtype=np.intp)]
    return lm[: len(trace.detections)]


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def trace_downloads(run_key: str, _trace) -> tuple[str, str]:
    """(trace JSON, detections CSV), serialised once per run."""
    return _trace.to_json(), core.detections_to_csv(_trace)


def heatmaps_npz(trace) -> bytes:
    """The trace's PNet heatmaps as a compressed npz (made when the user clicks download)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **trace.heatmaps())
    return buf.getvalue()


def full_png(rgb: np.ndarray, trace) -> bytes:
    """The full-resolution annotated PNG (made when the user clicks download: ~1 s at 1080p)."""
    d = trace.detections
    return draw.png_bytes(draw.draw_boxes(rgb, d.boxes, d.scores))


def render(run):
    """Page body."""
    trace = run.trace
    has_lm = trace.onet is not None and trace.onet.landmarks is not None
    show_lm = st.toggle(
        "Show ONet landmarks (not produced by the C++)", key="show_landmarks", disabled=not has_lm, help=LANDMARK_NOTE
    )
    png = annotated_png(run.key, bool(show_lm and has_lm), True, run.rgb, trace)
    st.image(
        png,
        output_format="JPEG",
        caption=f"{run.name}: {len(trace.detections)} face(s)"
        + (f" — pink dots: {LANDMARK_NOTE}" if show_lm and has_lm else ""),
    )
    if len(trace.detections):
        st.caption(SMALLER_THAN_MIN_FACE)
    _metrics(run)
    _tables(trace)
    _downloads(run)


def _metrics(run):
    trace = run.trace
    counts = stages.stage_counts(trace)
    cols = st.columns(len(counts))
    helps = {
        "PNet ≥ t1": "PNet cells at or above t1, all pyramid levels",
        "per-scale NMS": "proposals left after each level's NMS 0.5",
        "merged NMS": "after the cross-scale NMS 0.7",
        "final": "faces returned",
    }
    for col, (label, n) in zip(cols, counts):
        col.metric(label, n, help=helps.get(label))
    what, fix = stages.engine_honesty(trace, core.mc.kernels.COMPILED_ERROR is None)
    st.markdown(
        f"**Engine that ran:** {stages.engine_used(trace, run.engine)}. {what}"
        + (f" Faster exact path: `{fix}`." if fix else "")
    )


#: Full-precision columns: 4 decimals of pixels, 7 of a float32 confidence (0.9999998, not 1).
DETECTION_COLUMNS = {c: st.column_config.NumberColumn(c, format="%.4f") for c in "xywh"} | {
    "confidence": st.column_config.NumberColumn("confidence", format="%.7f")
}


def _table(title, rows, when_empty, column_config=None):
    """A titled table of row dicts, or a note when there are none."""
    st.subheader(title)
    if rows:
        df = pd.DataFrame(rows)
        order = (
            ["face", "confidence"] + [c for c in df.columns if c not in ("face", "confidence")]
            if "confidence" in df.columns
            else None
        )  # confidence in view on a narrow page
        st.dataframe(df, hide_index=True, width="stretch", column_config=column_config, column_order=order)
    else:
        when_empty()


def _tables(trace):
    left, right = st.columns([3, 2])
    with left:
        _table(
            "Detections",
            stages.detection_rows(trace),
            lambda: st.info("No face found with these parameters."),
            DETECTION_COLUMNS,
        )
    with right:
        _table("Time per stage", stages.timing_rows(trace), lambda: st.caption("This trace records no timing."))


def _downloads(run):
    trace = run.trace
    stem = run.name.rsplit(".", 1)[0]
    js, csv = trace_downloads(run.key, trace)
    cols = st.columns(4)
    rgb = run.rgb
    cols[0].download_button("Annotated PNG", lambda: full_png(rgb, trace), f"{stem}_faces.png", "image/png")
    cols[1].download_button("Detections CSV", csv, f"{stem}_detections.csv", "text/csv")
    cols[2].download_button("Trace JSON", js, f"{stem}.json", "application/json")
    if trace.heatmaps():
        cols[3].download_button(
            "Heatmaps npz", lambda: heatmaps_npz(trace), f"{stem}.heatmaps.npz", "application/octet-stream"
        )
