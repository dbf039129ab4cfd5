"""The batch's files: unique output names, atomic writes, reproducible npz, and resume (a
finished image is skipped when its options and input content are unchanged)."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np

ROW_VERSION = 1


def npz_bytes(arrays: dict) -> bytes:
    """An .npz like np.savez_compressed, but with fixed zip timestamps (byte-reproducible)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(arrays):
            zi = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            with z.open(zi, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asarray(arrays[name]), allow_pickle=False)
    return buf.getvalue()


def atomic_write(path: Path, data):
    """Write via a temp file in the same folder + os.replace, so readers never see half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def outputs_for(out: Path, stem: str, res: dict) -> dict:
    """{path: data} of the per-image files of a result (row.json not included)."""
    files = {
        out / f"{stem}.json": res["trace_json"],
        out / f"{stem}.heatmaps.npz": res["npz"],
        out / f"{stem}.compare.json": res["compare_json"],
    }
    return {p: d for p, d in files.items() if d is not None}


def save_result(out: Path, res: dict, options: dict):
    """Write the result's files, then `<stem>.row.json` (the completion marker) for successes."""
    stem = res["stem"]
    files = outputs_for(out, stem, res)
    for p, d in files.items():
        atomic_write(p, d)
    if not res["row"]["error"]:
        marker = {
            "version": ROW_VERSION,
            "options": options,
            "row": res["row"],
            "extra": res["extra"],
            "files": sorted(p.name for p in files),
            "input": res.get("input"),
        }
        atomic_write(out / f"{stem}.row.json", json.dumps(marker, sort_keys=True))


def content_key(path: Path) -> dict | None:
    """{'size', 'sha256'} of an input file (streamed), or None if unreadable."""
    import hashlib

    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError:
        return None
    return {"size": size, "sha256": h.hexdigest()}


def load_done(out: Path, stem: str, options: dict, has_cpp: bool, key: dict | None = None):
    """The saved result of a finished image with the same options and, when `key` is given, the
    same input content (size + SHA-256), or None (then redo it)."""
    try:
        m = json.loads((out / f"{stem}.row.json").read_text())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(m, dict) or (key is not None and m.get("input") != key):
        return None
    want = {f"{stem}.json"} | ({f"{stem}.compare.json"} if has_cpp else set())
    if (
        m.get("version") != ROW_VERSION
        or m.get("options") != options
        or not want <= set(m.get("files", []))
        or not all((out / f).is_file() for f in m.get("files", []))
    ):
        return None
    return {"stem": stem, "row": m["row"], "extra": m["extra"]}


class OutputError(OSError):
    """Writing the batch's outputs failed (disk full, unwritable folder): the run stops there."""


RESERVED_SUFFIXES = (".row", ".compare", ".heatmaps")


def output_stems(paths) -> dict:
    """{resolved path: output stem}, unique for every distinct input (in order; a path given
    twice counts once).

    An input keeps its plain stem (`a.jpg` -> a.json, as before) when no other input shares it and
    it cannot be mistaken for another's output (`x.row.png`); otherwise its whole file name is
    used (`a.png` -> a.png.json), plus a short hash of its path when even that repeats (the same
    name in two folders)."""
    import hashlib
    from collections import Counter

    uniq = list(dict.fromkeys(Path(p).resolve() for p in paths))
    stems = Counter(p.stem.lower() for p in uniq)
    names = Counter(p.name.lower() for p in uniq)
    out = {}
    for p in uniq:
        if stems[p.stem.lower()] == 1 and not p.stem.lower().endswith(RESERVED_SUFFIXES):
            out[p] = p.stem
        elif names[p.name.lower()] == 1:
            out[p] = p.name
        else:
            out[p] = f"{p.name}-{hashlib.sha256(str(p).encode()).hexdigest()[:8]}"
    clash = Counter(v.lower() for v in out.values())
    for p, v in out.items():  # e.g. a plain stem equal to another input's full file name
        if clash[v.lower()] > 1:
            out[p] = f"{p.name}-{hashlib.sha256(str(p).encode()).hexdigest()[:8]}"
    return out
