"""Per-session upload quotas: what one browser session may keep on the server at once.

A session holds: the files in Streamlit's upload store (each uploader's current files), the
current image's bytes (an accepted upload is moved out of the store into session state, so it is
held once; its store id is remembered so it is never counted twice), a Dataset row's C++ result,
and its uploaded model set on disk. Replacing an image or
a model set frees the old one. Over a limit, the newest upload is dropped with one message and
everything else the session had stays.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

#: Bytes one session may hold in uploads (a 50 MB upload is the server's per-file limit): an
#: image and a C++ trace of the largest size, or a typical image (~1-5 MB), a model set (5 MB),
#: a full trace with heatmaps (~10-30 MB) and a summary.csv, with room to spare. Twenty busy
#: sessions then hold at most 2 GB.
MAX_SESSION_BYTES = 100 << 20
#: Files one session may hold in the upload store at once: three .dat files, a C++ trace, its
#: heatmaps, a summary.csv and an image being replaced (the single uploaders replace their file).
MAX_SESSION_FILES = 7
#: Session key of the one message to show about a dropped upload.
MESSAGE = "quota_error"
#: Session key of the store ids of the accepted model set's files (held on disk instead).
MODEL_FILE_IDS = "_custom_model_file_ids"
#: Session key of the store ids already within the quota at the end of the last run.
ADMITTED = "_admitted_upload_ids"
#: Session key of the store ids dropped in this run (a widget may already hold their bytes).
DROPPED = "_dropped_upload_ids"


def _store():
    """(upload store, session id) of the running session, or (None, None) outside a run."""
    ctx = get_script_run_ctx()
    if ctx is None or ctx.uploaded_file_mgr is None:
        return None, None
    return ctx.uploaded_file_mgr, ctx.session_id


def _held_ids() -> set:
    """Store ids of uploads the session keeps elsewhere (the image record, the model set)."""
    ss = st.session_state
    return {(ss.get("image") or {}).get("file_id")} | set(ss.get(MODEL_FILE_IDS) or ())


def stored_files() -> list[tuple[str, str, int]]:
    """[(file id, name, bytes)] of the session's files in the upload store that are not held
    elsewhere, oldest first."""
    mgr, sid = _store()
    storage = getattr(mgr, "file_storage", {}).get(sid) if mgr is not None else None
    held = _held_ids()
    return [(r.file_id, r.name, len(r.data)) for r in list((storage or {}).values()) if r.file_id not in held]


def release(file_id: str | None):
    """Drop one file from the session's upload store (its bytes are kept elsewhere or refused)."""
    mgr, sid = _store()
    if mgr is not None and file_id:
        mgr.remove_file(sid, file_id)


def kept_bytes() -> int:
    """Bytes the session holds outside the upload store: uploaded image, Dataset C++ result,
    its model set's files."""
    ss = st.session_state
    img = ss.get("image") or {}
    total = len(img.get("data", b"")) if img.get("source") == "upload" else 0
    preset = ss.get("cpp_preset") or {}
    total += len(preset.get("data") or b"") + len(preset.get("npz") or b"")
    model_set = ss.get("_custom_model_set")  # models_view.SET_KEY
    folder = getattr(model_set, "folder", None)
    if folder is not None and Path(folder).is_dir():
        total += sum(p.stat().st_size for p in Path(folder).iterdir() if p.is_file())
    return total


def session_bytes() -> int:
    return kept_bytes() + sum(size for _, _, size in stored_files())


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def over_quota_message(name: str, size: int, held: int) -> str:
    return (
        f"{name} ({_mb(size)}) was not kept: this session already holds {_mb(held)} of "
        f"uploads and may hold {_mb(MAX_SESSION_BYTES)}. Remove an upload you no longer need "
        "(a C++ trace, heatmaps, summary.csv) or replace the image or model set, then retry."
    )


def admit(name: str, size: int, replacing: int = 0) -> str | None:
    """None if an upload of `size` bytes fits the session's quota once `replacing` bytes (what
    it replaces) are freed and its own copy in the store is not counted twice; else why not."""
    held = session_bytes() - replacing - size
    if held + size > MAX_SESSION_BYTES:
        return over_quota_message(name, size, held)
    return None


def enforce():
    """Run once per script run: while the session is over a limit, drop the uploads that arrived
    since the last run (largest first; earlier ones only if still over), with one message; the
    session's other uploads and state stay."""
    ss = st.session_state
    files = stored_files()
    admitted = set(ss.get(ADMITTED) or ())
    order = [f for f in files if f[0] in admitted] + sorted(
        (f for f in files if f[0] not in admitted), key=lambda f: -f[2]
    )[::-1]  # drop from the end
    total, dropped = kept_bytes() + sum(f[2] for f in order), []
    while order and (total > MAX_SESSION_BYTES or len(order) > MAX_SESSION_FILES):
        fid, name, size = order.pop()
        release(fid)
        total -= size
        dropped.append((fid, name, size))
    ss[ADMITTED] = [f[0] for f in order]
    ss[DROPPED] = [fid for fid, _, _ in dropped]
    if not dropped:
        return
    name, size = dropped[0][1:] if len(dropped) == 1 else (f"{len(dropped)} files", sum(s for _, _, s in dropped))
    if total <= MAX_SESSION_BYTES - size:  # the bytes fitted: it was the number of files
        ss[MESSAGE] = (
            f"{name} not kept: a session may hold {MAX_SESSION_FILES} uploaded files at once; remove one first."
        )
    else:
        ss[MESSAGE] = over_quota_message(name, size, total)


def kept(value):
    """An uploader's value without the files the quota dropped: None for a dropped single file,
    a shorter list for several. (A widget read in the run that dropped a file still has its bytes;
    later runs see Streamlit's DeletedFile, which has none.)"""
    dropped = set(st.session_state.get(DROPPED) or ())

    def ok(f):
        return f is not None and hasattr(f, "getvalue") and f.file_id not in dropped

    if isinstance(value, list):
        return [f for f in value if ok(f)]
    return value if ok(value) else None


def show_message():
    """The quota message, once, in the sidebar (every page has it)."""
    msg = st.session_state.pop(MESSAGE, None)
    if msg:
        st.sidebar.error(msg)
