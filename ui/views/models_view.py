"""Models page: which .dat set is loaded, its provenance (SHA-256), layer tables, custom uploads."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import weakref
from pathlib import Path

import pandas as pd
import streamlit as st

from .. import core
from . import pipeline, quotas, state

NETS = ("PNet", "RNet", "ONet")
MAX_DAT_BYTES = 8 << 20  # per uploaded file (OpenFace's ONet.dat is 1.7 MB)
SET_KEY = "_custom_model_set"  # session key of the session's one PrivateModelSet


def network_for_file(name: str) -> str | None:
    """'PNet'/'RNet'/'ONet' from an uploaded file name (case-insensitive), else None."""
    low = name.lower()
    hits = [n for n in NETS if n.lower() in low]
    return hits[0] if len(hits) == 1 else None


def validate_model_upload(files: list[tuple[str, bytes]], custom_architecture: bool = False) -> dict:
    """{'PNet': bytes, ...} once every file is named, sized and parsed in memory as its network
    (OpenFace's MTCNN shapes unless custom_architecture); ModelFormatError otherwise. Nothing is
    written before this succeeds."""
    by_net = {}
    for name, data in files:
        net = network_for_file(name)
        if net is None:
            raise core.ModelFormatError(
                name, None, "cannot tell which network this is; name the files PNet.dat, RNet.dat and ONet.dat"
            )
        if net in by_net:
            raise core.ModelFormatError(name, None, f"a second file for {net}")
        if len(data) > MAX_DAT_BYTES:
            raise core.ModelFormatError(
                name, None, f"{len(data):,} bytes, over the limit of {MAX_DAT_BYTES:,} for a model file"
            )
        by_net[net] = data
    missing = [n for n in NETS if n not in by_net]
    if missing:
        raise core.ModelFormatError("upload", None, f"missing {', '.join(m + '.dat' for m in missing)}")
    from mtcnn_core.network import network_from_bytes

    for n in NETS:
        network_from_bytes(n, by_net[n], f"{n}.dat", custom_architecture)
    return by_net


class PrivateModelSet:
    """One session's uploaded set in its own mkdtemp folder (mode 0700, files 0600, created
    exclusively, never following a link); the folder is removed when this object is dropped
    (the session ends or uploads another set) or the server exits."""

    def __init__(self, by_net: dict):
        self.folder = Path(tempfile.mkdtemp(prefix="mtcnn_lens_models_"))
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.folder), True)
        try:
            for n in NETS:
                fd = os.open(
                    self.folder / f"{n}.dat", os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600
                )
                with os.fdopen(fd, "wb") as f:
                    f.write(by_net[n])
        except BaseException:
            self.remove()
            raise
        self.sha = hashlib.sha256(b"".join(hashlib.sha256(by_net[n]).digest() for n in NETS)).hexdigest()

    def remove(self):
        self._cleanup()


def save_model_upload(files: list[tuple[str, bytes]], custom_architecture: bool = False) -> PrivateModelSet:
    """Validate an uploaded set in memory, then write it to a fresh private folder."""
    return PrivateModelSet(validate_model_upload(files, custom_architecture))


def validate_and_use():
    """Button callback: validate in memory, save privately, load and select an uploaded set;
    the session's previous custom set (and its folder) is dropped."""
    ss = st.session_state
    ss.model_error = None
    ups = quotas.kept(ss.get("dat_upload") or [])
    if not ups:
        ss.model_error = "Choose the three .dat files (PNet, RNet, ONet) first."
        return
    custom = bool(ss.get("dat_custom_arch"))
    old_set = ss.get(SET_KEY)
    freed = sum(p.stat().st_size for p in old_set.folder.iterdir()) if old_set is not None else 0
    problem = quotas.admit("The model set", sum(u.size for u in ups), replacing=freed)
    if problem is not None:
        ss.model_error = problem
        return
    try:
        if any(u.size > MAX_DAT_BYTES for u in ups):
            big = next(u for u in ups if u.size > MAX_DAT_BYTES)
            raise core.ModelFormatError(big.name, None, f"over the limit of {MAX_DAT_BYTES:,} bytes")
        new = save_model_upload([(u.name, u.getvalue()) for u in ups], custom)
        pipeline.get_models(str(new.folder), custom)
    except core.ModelFormatError as e:
        ss.model_error = f"Model files refused: {e}"
        return
    old = ss.get(SET_KEY)
    label = f"custom {new.sha[:8]}"
    ss.model_sets = {k: v for k, v in ss.model_sets.items() if not k.startswith("custom ")}
    ss.model_sets[label] = str(new.folder)
    ss.model_custom_arch = custom
    ss[SET_KEY] = new
    ss.model_set = label
    if old is not None:
        old.remove()
    ss[quotas.MODEL_FILE_IDS] = [u.file_id for u in ups]
    for u in ups:  # kept once: in the private folder
        quotas.release(u.file_id)


def render(run):
    """Page body."""
    models = pipeline.get_models(run.model_folder, state.custom_architecture())
    where = "the bundled `models/` folder" if run.model_folder is None else "your upload (a private folder)"
    st.markdown(f"**Loaded set:** `{st.session_state.model_set}` from {where}")  # no server paths
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
    return pd.DataFrame(
        [
            {
                "network": n,
                "file": models.files[n].name,  # the name only: no server paths
                "bytes": Path(models.files[n]).stat().st_size,
                "SHA-256": models.sha256[n],
                "OpenFace 2.2.0's file": "yes" if same[n] else "no",
            }
            for n in NETS
        ]
    )


def _upload():
    st.subheader("Use a custom model set")
    st.file_uploader(
        "PNet.dat, RNet.dat and ONet.dat (OpenFace's binary format)",
        type=["dat"],
        accept_multiple_files=True,
        key="dat_upload",
    )
    st.checkbox("Custom architecture (not OpenFace's layer shapes; size-bounded)", key="dat_custom_arch")
    st.button("Validate and use this set", on_click=validate_and_use, key="dat_use")
    if st.session_state.get("model_error"):
        st.error(st.session_state.model_error)


@st.cache_data(max_entries=4, ttl=3600, show_spinner="Checking the host BLAS…")
def engine_report(model_folder: str | None, custom: bool = False) -> str:
    """mc.engine_report() for one model set (it times/checks every layer shape once)."""
    return core.mc.engine_report(pipeline.get_models(model_folder, custom))


def _engine(run):
    st.subheader("Engine")
    st.markdown(f"Engine chosen in the sidebar: **{run.engine}**; this run: `{run.trace.producer}`.")
    if st.toggle(
        "Show the engine report (which kernels run each layer, and the C++ build's rule)", key="show_engine_report"
    ):
        st.code(engine_report(run.model_folder, state.custom_architecture()), language=None)
