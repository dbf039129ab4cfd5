"""C++ vs Python page: load a C++ result, overlay both box sets, per-face and per-stage deltas."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from .. import core, samples
from ..figures import plots
from ..figures import stage_compare as sc
from . import overlay, pipeline, quotas, state

CPP_COLOUR, PY_COLOUR = sc.CPP_COLOUR, sc.PY_COLOUR
STAGE_PICK = "compare_stage"
#: Pixel height of one st.dataframe row (and its header), to show a whole table without scrolling.
ROW_PX = 35
SOURCES = ("Bundled C++ trace of this sample", "Upload a C++ result")


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def parse_reference(digest: str, name: str, _data: bytes, _npz: bytes | None):
    """A user's file (trace JSON / minimal JSON / CSV, optional heatmaps npz) as
    (Trace, why the npz was left out or None). An npz that does not fit the trace (another image,
    other sizes) does not block the comparison: the trace is compared without heatmaps."""
    if _npz is None:
        return core.load_any(_data, name), None
    try:
        return core.load_any(_data, name, heatmaps=_npz), None
    except core.TraceFormatError as e:
        trace = core.load_any(_data, name)  # the trace itself is bad: this raises too
        return trace, str(e)


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def compare_runs(run_key: str, ref_key: str, tol_px: float, tol_score: float, _ref, _cand):
    """mc.compare of reference (C++) and candidate (Python), once per pair and tolerances."""
    return core.mc.compare(_ref, _cand, tol_px=tol_px, tol_score=tol_score)


def render(run):
    """Page body."""
    ref, ref_key, label = choose_reference(run)
    if ref is None:
        return
    tol_px, tol_score = _tolerances()
    match = build_match(run, ref, ref_key)
    run = candidate_run(run, match)
    report = compare_runs(run.key, ref_key, tol_px, tol_score, ref, run.trace)
    _mismatch_notes(run, ref, report)
    _verdict(report)
    verdict_slot(run, match)
    if ref.has_stages:
        stage_view(run, ref, report, label, tol_px)
        st.subheader("Every stage")
        table = stage_table(report)
        st.dataframe(
            style_stage_table(table, report.first_divergent),
            hide_index=True,
            width="stretch",
            height=full_height(len(table)),
        )
        _heatmaps(run, ref)
    else:
        st.caption("Detections only: load a full mtcnn-trace JSON for the stage-by-stage view.")
        st.plotly_chart(overlay_figure(run, ref, label), width="stretch", key="compare_overlay")
    st.subheader("Per face")
    faces = face_table(report)
    st.dataframe(faces, hide_index=True, width="stretch", height=full_height(len(faces), 20))


BUILD_NAMES = {"avx512": "AVX-512", "avx2": "AVX2"}


def build_match(run, ref, ref_key):
    """Which OpenFace build the C++ result matches bit for bit (mc.identify_build), from this
    port's runs of both builds (each cached like any run)."""
    runs = {b: state.current_run(b).trace for b in core.mc.BUILDS}
    return identify(run.key, ref_key, ref, runs)


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def identify(run_key: str, ref_key: str, _ref, _runs):
    return core.mc.identify_build(_ref, runs=_runs)


def candidate_run(run, match):
    """The Python run to compare: with the sidebar on 'auto', the build the C++ result matches
    (or the nearer one); a pinned build stays."""
    if st.session_state.get("cpp_build", "auto") != "auto" or match.nearest == run.cpp_build:
        return run
    return state.current_run(match.nearest)


def verdict_slot(run, match):
    """Which build made the C++ result, next to the overlay."""
    text = match.describe()
    shown = f" This page compares with the port run as the {BUILD_NAMES[run.cpp_build]} build."
    if match.build or len(match.matches) == 2:
        st.success(f"C++ build: {text}.{shown}", icon=":material/memory:")
    else:
        st.warning(f"C++ build: {text}.{shown}", icon=":material/memory:")


def full_height(rows: int, max_rows: int | None = None) -> int:
    """st.dataframe height showing `rows` rows (up to max_rows) without an inner scrollbar."""
    shown = rows if max_rows is None else min(rows, max_rows)
    return ROW_PX * (max(shown, 1) + 1) + 3


def open_cascade(stage: str):
    """Button callback: show this stage on the Cascade page."""
    st.session_state["cascade_stage"] = stage


def stage_view(run, ref, report, label, tol_px):
    """The port debugger's main view: one stage's C++ and Python boxes on the image."""
    st.subheader("One stage on the image")
    names = sc.stage_names(report)
    if st.session_state.get(STAGE_PICK) not in names:
        st.session_state[STAGE_PICK] = sc.default_stage(report)
    c1, c2 = st.columns([3, 1])
    name = c1.selectbox(
        "Stage (default: the first divergent one)",
        names,
        key=STAGE_PICK,
        format_func=lambda n: n + ("  ← first divergent" if n == report.first_divergent else ""),
    )
    target = sc.CASCADE_STAGE.get(name)
    if target:
        c2.write("")
        if c2.button(
            "Open in Cascade ↗",
            key="compare_to_cascade",
            help=f"Show the “{target}” stage on the Cascade page",
            on_click=open_cascade,
            args=(target,),
            width="stretch",
        ):
            st.switch_page("pages/cascade.py")
    srep = report.stage(name)
    ref_boxes, cand_boxes = sc.stage_boxes(ref, name), sc.stage_boxes(run.trace, name)
    if ref_boxes is None or cand_boxes is None or srep is None:
        st.info(f"Stage {name} is not in both traces.")
        return
    cats = sc.categorise(srep, tol_px)
    counts = cats.counts()
    cols = st.columns(4)
    for col, (k, v) in zip(cols, counts.items()):
        col.metric(k, v)
    fig = sc.stage_figure(
        overlay.image_figure(run, px_height=overlay.fit_height(run, 760)),
        ref_boxes,
        cand_boxes,
        cats,
        label.split(" (")[0],
    )
    st.plotly_chart(fig, width="stretch", key="compare_stage_fig")
    rows = sc.delta_rows(srep, ref_boxes, cand_boxes, tol_px)
    if rows:
        order = {"only C++": 0, "only Python": 1, "moved": 2, "matched": 3}
        rows.sort(key=lambda r: order[r["category"]])
        st.caption(f"{name}: Δ = Python − C++ (scientific notation; 0 = the same float).")
        df = pd.DataFrame(rows)
        st.dataframe(df, hide_index=True, width="stretch", height=full_height(len(df), 15))


def choose_reference(run):
    """(reference Trace, cache key, label) from the bundled traces or an upload; (None, ..) if none."""
    has_bundled = run.source == "sample" and samples.cpp_traces_for(run.name)
    source = st.radio("C++ result", SOURCES if has_bundled else SOURCES[1:], horizontal=True, key="cpp_source")
    if source == SOURCES[0]:
        return _bundled(run)
    return _uploaded(run)


def _bundled(run):
    build = st.radio(
        "Bundled trace made by OpenFace built for",
        list(samples.CPP_DIRS),
        horizontal=True,
        key="cpp_bundled_build",
        format_func=lambda b: f"{BUILD_NAMES[b]} CPUs",
    )
    path = samples.cpp_trace_path(run.name, run.params, build)
    if path is None:
        choices = [p.name for p in samples.cpp_traces_for(run.name, build)]
        st.info(
            "No bundled C++ trace was made with the current parameters (bundled: OpenFace "
            "defaults, and min face 20 / t1 0.5). Pick one anyway to see the differences."
        )
        if st.session_state.get("cpp_bundled_pick") not in choices:
            st.session_state["cpp_bundled_pick"] = choices[0]
        name = st.selectbox("Bundled trace", choices, key="cpp_bundled_pick")
        path = samples.CPP_DIRS[build] / name
    folder = samples.CPP_DIRS[build].name
    st.caption(f"Reference: `sample_images/{folder}/{path.name}`")
    return (
        pipeline.bundled_cpp_trace(str(path)),
        f"bundled:{folder}/{path.name}",
        f"C++ (OpenFace 2.2.0, {BUILD_NAMES[build]})",
    )


def _uploaded(run):
    up = quotas.kept(
        st.file_uploader(
            "C++ trace JSON, or detections JSON/CSV (x,y,w,h,confidence)", type=["json", "csv"], key="cpp_upload"
        )
    )
    npz = quotas.kept(st.file_uploader("Optional heatmaps (.heatmaps.npz)", type=["npz"], key="cpp_npz"))
    if up is None:
        preset = preset_reference(run)
        if preset is None:
            st.info("Upload a result written by your OpenFace build (see docs/cpp_dump.md).")
            return None, None, None
        st.caption(f"Reference: `{preset.name}` (opened from the Dataset page; upload to replace it)")
        up, npz = preset, preset.npz
    data, npz_data = up.getvalue(), (npz.getvalue() if npz is not None else None)
    digest = hashlib.sha256(data + (npz_data or b"")).hexdigest()
    try:
        ref, npz_problem = parse_reference(digest, up.name, data, npz_data)
    except core.MTCNNInputError as e:
        st.error(f"{up.name}: {e}" if up.name not in str(e) else str(e))
        return None, None, None
    if npz_problem:
        st.warning(f"Comparing without heatmaps: the heatmaps file does not fit this trace ({npz_problem}).")
    return ref, f"upload:{digest}", f"C++ ({up.name})"


class _PresetFile:
    """A C++ result handed over by the Dataset page, shaped like an uploaded file."""

    def __init__(self, name: str, data: bytes, npz: bytes | None = None):
        self.name, self._data = name, data
        self.npz = _PresetFile(name + ".heatmaps.npz", npz) if npz is not None else None

    def getvalue(self) -> bytes:
        return self._data


def preset_reference(run):
    """The Dataset page's C++ result (session key `cpp_preset`) if it belongs to the current image."""
    p = st.session_state.get("cpp_preset")
    if not p or p.get("image_sha") != run.sha:
        return None
    return _PresetFile(p["name"], p["data"], p.get("npz"))


def _tolerances():
    c1, c2 = st.columns(2)
    st.session_state.setdefault("tol_px", 0.01)
    st.session_state.setdefault("tol_score", 1e-4)
    tol_px = c1.number_input("Box tolerance (px)", 0.0, 100.0, step=0.01, format="%.4f", key="tol_px")
    tol_score = c2.number_input("Score tolerance", 0.0, 1.0, step=1e-4, format="%.6f", key="tol_score")
    return float(tol_px), float(tol_score)


def mismatch_messages(image_hw: tuple, params: dict, ref) -> list[str]:
    """Plain-language differences between the C++ file and the current run (image size, params)."""
    msgs = []
    img = ref.image or {}
    h, w = image_hw
    if img.get("width") and img.get("height") and (int(img["width"]), int(img["height"])) != (w, h):
        msgs.append(
            f"The C++ file is for a {img['width']}×{img['height']} image, the current image "
            f"is {w}×{h}: the boxes cannot be compared meaningfully."
        )
    for k in pipeline.PARAM_KEYS:
        a = (ref.params or {}).get(k)
        if a is not None and abs(float(a) - float(params[k])) > 1e-6:
            msgs.append(f"Parameter {k}: C++ file used {a}, the current run uses {params[k]}.")
    if not img and not ref.params:
        msgs.append("The C++ file records neither image nor parameters; they cannot be checked.")
    return msgs


def _mismatch_notes(run, ref, report):
    msgs = mismatch_messages(run.rgb.shape[:2], run.params, ref)
    sha = (ref.image or {}).get("sha256")
    if sha and sha != run.sha:
        msgs.append("The C++ file was made from a different image file (SHA-256 differs).")
    for m in msgs:
        st.warning(m)


def _verdict(report):
    if report.bit_identical:
        st.success("Python and C++ agree bit for bit at every stage.")
    elif report.ok:
        st.info(f"All stages within tolerance; first not bit-identical: {report.first_not_identical}.")
    else:
        st.error(f"First divergent stage: {report.first_divergent}.")


def overlay_figure(run, ref, label):
    """The image with C++ and Python final boxes in two colours (legend)."""
    fig = overlay.image_figure(run, px_height=560)
    plots.add_boxes(fig, ref.detections.boxes, label, CPP_COLOUR, width=3)
    plots.add_boxes(fig, run.trace.detections.boxes, "Python (mtcnn_core)", PY_COLOUR, width=2, dash="dash")
    return fig


def face_table(report) -> pd.DataFrame:
    """Matched C++/Python pairs with their deltas; unmatched faces flagged."""
    st_ = report.stage("detections")
    rows = [
        {
            "C++ #": p.ref,
            "Python #": p.cand,
            "dx": sc.sci(p.dx),
            "dy": sc.sci(p.dy),
            "dw": sc.sci(p.dw),
            "dh": sc.sci(p.dh),
            "IoU": f"{p.iou:.6f}",
            "Δconfidence": sc.sci(p.dscore),
            "status": "matched",
        }
        for p in st_.pairs
    ]
    rows += [{"C++ #": i, "Python #": None, "status": "only in C++"} for i in st_.unmatched_ref]
    rows += [{"C++ #": None, "Python #": i, "status": "only in Python"} for i in st_.unmatched_cand]
    cols = ["C++ #", "Python #", "dx", "dy", "dw", "dh", "IoU", "Δconfidence", "status"]
    return pd.DataFrame(rows, columns=cols)


def stage_table(report) -> pd.DataFrame:
    """One row per compared stage: counts, max deltas (scientific notation), verdict."""
    return pd.DataFrame(sc.stage_rows(report))


def style_stage_table(df: pd.DataFrame, first_divergent: str | None):
    """Highlight the first divergent stage (a pandas Styler st.dataframe can show)."""

    def colour(row):
        hit = first_divergent is not None and row["stage"] == first_divergent
        return ["background-color: #8b1e1e; color: white" if hit else ""] * len(row)

    return df.style.apply(colour, axis=1)


def _heatmaps(run, ref):
    ref_maps = {s.index: s for s in ref.scales if s.heatmap is not None}
    py_maps = {s.index: s for s in (run.trace.scales or []) if s.heatmap is not None}
    common = sorted(set(ref_maps) & set(py_maps))
    if not common:
        st.caption("Heatmap comparison needs the C++ heatmaps (.heatmaps.npz).")
        return
    st.subheader("PNet heatmaps at one scale")
    i = st.select_slider("Scale index", common, key="compare_scale")
    a, b = ref_maps[i].heatmap, py_maps[i].heatmap
    if a.shape != b.shape:
        st.warning(f"Heatmap sizes differ at scale {i}: C++ {a.shape}, Python {b.shape}.")
        return
    c1, c2, c3 = st.columns(3)
    t1 = float(run.params["t1"])
    c1.plotly_chart(
        plots.heatmap_figure(a, ref_maps[i].scale, t1, "C++", 320), width="stretch", key="hm_cpp", theme=None
    )
    c2.plotly_chart(
        plots.heatmap_figure(b, py_maps[i].scale, t1, "Python", 320), width="stretch", key="hm_py", theme=None
    )
    d = sc.heatmap_difference(a, b)
    c3.plotly_chart(
        plots.diff_heatmap_figure(d["diff"], "Python − C++ (probability)"), width="stretch", key="hm_diff", theme=None
    )
    st.caption(heatmap_caption(i, d))


def heatmap_caption(i: int, d: dict) -> str:
    """Plain units for a heatmap difference: absolute probability and float32 ulps."""
    if not d["cells_differing"]:
        return f"Scale {i}: all {d['cells']:,} cells have the same float32 bits in C++ and Python."
    return (
        f"Scale {i}: {d['cells_differing']:,} of {d['cells']:,} cells differ; largest "
        f"difference {sc.sci(d['max_abs'])} in probability = {d['max_ulps']:,} ulp(s) of float32 "
        "(1 ulp near 0.5 is 6e-08)."
    )
