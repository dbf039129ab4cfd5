"""Models page: which .dat set is loaded, its provenance (SHA-256), layer tables, custom uploads."""
from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from . import core, pipeline

NETS = ("PNet", "RNet", "ONet")
UPLOAD_ROOT = Path(tempfile.gettempdir()) / "mtcnn_lens_models"


def network_for_file(name: str) -> str | None:
    """'PNet'/'RNet'/'ONet' from an uploaded file name (case-insensitive), else None."""
    low = name.lower()
    hits = [n for n in NETS if n.lower() in low]
    return hits[0] if len(hits) == 1 else None


def save_model_upload(files: list[tuple[str, bytes]]) -> Path:
    """Write an uploaded set as <tmp>/mtcnn_lens_models/<sha>/{PNet,RNet,ONet}.dat; raise
    ModelFormatError when a network is missing, doubled or unrecognised."""
    by_net = {}
    for name, data in files:
        net = network_for_file(name)
        if net is None:
            raise core.ModelFormatError(name, None, "cannot tell which network this is; name the "
                                        "files PNet.dat, RNet.dat and ONet.dat")
        if net in by_net:
            raise core.ModelFormatError(name, None, f"a second file for {net}")
        by_net[net] = data
    missing = [n for n in NETS if n not in by_net]
    if missing:
        raise core.ModelFormatError("upload", None, f"missing {', '.join(m + '.dat' for m in missing)}")
    digest = hashlib.sha256(b"".join(by_net[n] for n in NETS)).hexdigest()[:16]
    folder = UPLOAD_ROOT / digest
    folder.mkdir(parents=True, exist_ok=True)
    for n in NETS:
        (folder / f"{n}.dat").write_bytes(by_net[n])
    return folder


def validate_and_use():
    """Button callback: save, load (validating every byte) and select an uploaded model set."""
    ss = st.session_state
    ss.model_error = None
    ups = ss.get("dat_upload") or []
    if not ups:
        ss.model_error = "Choose the three .dat files (PNet, RNet, ONet) first."
        return
    folder = None
    try:
        folder = save_model_upload([(u.name, u.getvalue()) for u in ups])
        pipeline.get_models(str(folder))
    except core.ModelFormatError as e:
        ss.model_error = f"Model files refused: {str(e).replace(str(folder) + '/', '') if folder else e}"
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        return
    label = f"custom {folder.name[:8]}"
    ss.model_sets = {**ss.model_sets, label: str(folder)}
    ss.model_set = label


def render(run):
    """Page body."""
    models = pipeline.get_models(run.model_folder)
    st.markdown(f"**Loaded set:** `{st.session_state.model_set}` from `{models.folder}`")
    st.dataframe(provenance_table(models), hide_index=True, width="stretch")
    tabs = st.tabs(list(NETS))
    for tab, name in zip(tabs, NETS):
        with tab:
            rows = models.network(name).describe()
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
            st.caption(f"{sum(r['parameters'] for r in rows):,} parameters in {len(rows)} layers.")
    _upload()
    _engine(run)


def provenance_table(models) -> pd.DataFrame:
    """Per network: file, size, SHA-256 and whether it is OpenFace 2.2.0's file."""
    same = models.matches_openface
    return pd.DataFrame([{"network": n, "file": str(models.files[n]),
                          "bytes": Path(models.files[n]).stat().st_size,
                          "SHA-256": models.sha256[n],
                          "OpenFace 2.2.0's file": "yes" if same[n] else "no"} for n in NETS])


def _upload():
    st.subheader("Use a custom model set")
    st.file_uploader("PNet.dat, RNet.dat and ONet.dat (OpenFace's binary format)", type=["dat"],
                     accept_multiple_files=True, key="dat_upload")
    st.button("Validate and use this set", on_click=validate_and_use, key="dat_use")
    if st.session_state.get("model_error"):
        st.error(st.session_state.model_error)


@st.cache_data(max_entries=4, ttl=3600, show_spinner="Checking the host BLAS…")
def engine_report(model_folder: str | None) -> str:
    """mc.engine_report() for one model set (it times/checks every layer shape once)."""
    return core.mc.engine_report(pipeline.get_models(model_folder))


def _engine(run):
    st.subheader("Engine")
    st.markdown(f"Engine chosen in the sidebar: **{run.engine}**; this run: `{run.trace.producer}`.")
    if st.toggle("Show the engine report (which kernels run each layer, and the C++ build's rule)",
                 key="show_engine_report"):
        st.code(engine_report(run.model_folder), language=None)
