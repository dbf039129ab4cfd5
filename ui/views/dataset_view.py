"""Dataset page: browse a `python -m mtcnn_core batch` output folder (or just its summary.csv),
filter the rows, and open one image with its C++ result on the C++ vs Python page.

The parsing, classification, filtering and file look-ups are plain functions (no Streamlit) so they
can be tested directly; `render()` only draws them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import pandas as pd
import streamlit as st

from mtcnn_core.tools.batch.summary import SUMMARY_FIELDS

from .. import batch_rows, data_roots
from . import page, quotas, state

INT_FIELDS = ("faces_cpp", "faces_py")
FLOAT_FIELDS = ("max_abs_dx", "max_abs_dy", "max_abs_dw", "max_abs_dh", "min_iou", "max_dconfidence", "time_ms")
IDENTICAL, TOLERANCE, DIVERGING, FAILED, NO_CPP = ("bit-identical", "within tolerance", "diverging", "failed", "no C++")
STATUSES = (IDENTICAL, TOLERANCE, DIVERGING, FAILED, NO_CPP)
STATUS_FILTERS = ("all", DIVERGING, FAILED, IDENTICAL, TOLERANCE, NO_CPP)
COMPARE_PAGE = "pages/compare.py"
MAX_SUMMARY_ROWS = 200_000


class SummaryError(ValueError):
    """A one-line, user-facing problem with a batch folder or summary.csv."""


# ---- reading ---------------------------------------------------------------------------------
def batch_folder(text: str, roots: list | None = None) -> Path | None:
    """The batch --out folder named by `text` (None when empty); it must hold summary.csv and lie
    inside the data roots (outside: one message, whether or not the path exists)."""
    text = (text or "").strip()
    if not text:
        return None
    roots = data_roots.configured_roots() if roots is None else roots
    p = data_roots.resolve_in_roots(text, roots)
    if p is None:
        raise SummaryError(data_roots.REFUSED)
    if not p.exists():
        raise SummaryError(f"No folder {text} on the server.")
    if not p.is_dir():
        raise SummaryError(f"{text} is a file, not a folder: give the batch's --out folder.")
    if not (p / "summary.csv").is_file():
        raise SummaryError(f"{text} holds no summary.csv: is it the --out folder of a batch run?")
    return p


def parse_summary(data: bytes | str, name: str = "summary.csv") -> pd.DataFrame:
    """summary.csv as a DataFrame (numbers as floats, blanks as NaN) plus a `status` column.

    Raises SummaryError naming the line for a wrong header, a short/long row or a bad number, so
    the page can show one line instead of a traceback."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SummaryError(f"{name} is not UTF-8 text.") from None
    try:
        rows = []
        for row in csv.reader(io.StringIO(data, newline="")):
            rows.append(row)
            if len(rows) > MAX_SUMMARY_ROWS + 1:
                raise SummaryError(f"{name}: more than {MAX_SUMMARY_ROWS:,} rows.")
    except csv.Error as e:
        raise SummaryError(f"{name} line {len(rows) + 1}: not a valid CSV row ({e}).") from None
    if not rows:
        raise SummaryError(f"{name} is empty.")
    if rows[0] != SUMMARY_FIELDS:
        raise SummaryError(f"{name} line 1: the header is not the batch's ({','.join(SUMMARY_FIELDS)}).")
    records = [_record(r, i, name) for i, r in enumerate(rows[1:], start=2) if r]
    df = pd.DataFrame(records, columns=SUMMARY_FIELDS)
    df.insert(1, "status", [row_status(r) for r in records])
    return df


def _record(values: list, line: int, name: str) -> dict:
    """One CSV row as typed values; SummaryError names the line and column of a bad cell."""
    if len(values) != len(SUMMARY_FIELDS):
        raise SummaryError(f"{name} line {line}: {len(values)} fields, expected {len(SUMMARY_FIELDS)}.")
    rec = dict(zip(SUMMARY_FIELDS, values))
    for k in INT_FIELDS + FLOAT_FIELDS:
        rec[k] = _number(rec[k], k, line, name, integer=k in INT_FIELDS)
    if rec["bit_identical"] not in ("yes", "no", ""):
        raise SummaryError(f"{name} line {line}: bit_identical must be yes, no or empty.")
    return rec


def _number(text: str, column: str, line: int, name: str, integer: bool) -> float:
    """A cell as a float (NaN when blank, as the batch writes for failed or C++-less rows)."""
    if text.strip() == "":
        return math.nan
    try:
        v = float(text)
    except ValueError:
        raise SummaryError(f"{name} line {line}: {column} is not a number.") from None
    if integer and not (v.is_integer() and v >= 0):
        raise SummaryError(f"{name} line {line}: {column} must be a face count.")
    return v


def row_status(rec: dict) -> str:
    """The batch report's verdict for a row: failed / no C++ / bit-identical / within tolerance /
    diverging (a row that is not bit-identical with no first divergent stage is within tolerance)."""
    if rec["error"]:
        return FAILED
    if rec["bit_identical"] == "":
        return NO_CPP
    if rec["bit_identical"] == "yes":
        return IDENTICAL
    return DIVERGING if rec["first_divergent_stage"] else TOLERANCE


def totals(df: pd.DataFrame) -> dict:
    """Row count per status, every status present (0 when absent)."""
    counts = df["status"].value_counts() if len(df) else {}
    return {s: int(counts.get(s, 0)) for s in STATUSES}


def filter_rows(df: pd.DataFrame, status: str = "all", stages=(), search: str = "") -> pd.DataFrame:
    """Rows with that status ('all': any), one of those first divergent stages (none chosen: any)
    and a file name containing `search` (case-insensitive)."""
    keep = pd.Series(True, index=df.index)
    if status != "all":
        keep &= df["status"] == status
    if stages:
        keep &= df["first_divergent_stage"].isin(list(stages))
    if search.strip():
        keep &= df["file"].str.contains(search.strip(), case=False, regex=False)
    return df[keep]


def divergent_stages(df: pd.DataFrame) -> list[str]:
    """The first-divergent stages that occur, for the multiselect."""
    return sorted(s for s in df["first_divergent_stage"].unique() if s)


# ---- one row's files -------------------------------------------------------------------------
@dataclass
class RowInputs:
    """What opening a row on the C++ vs Python page needs, or the plain reasons it cannot."""

    image: Path | None = None
    cpp: Path | None = None
    npz: Path | None = None
    params: dict | None = None
    engine: str | None = None
    tolerances: dict = field(default_factory=dict)  # tol_px / tol_score of the batch's compare
    problems: list = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.image is not None and self.cpp is not None and not self.problems


def read_marker(folder: Path, stem: str) -> dict | None:
    """`<stem>.row.json`, the batch's completion marker (options, row, output files), or None."""
    p = folder / f"{stem}.row.json"
    if not data_roots.inside(p, data_roots.configured_roots()):
        return None
    try:
        m = json.loads(_read_small(p))
    except (OSError, ValueError, RecursionError):
        return None
    return m if isinstance(m, dict) else None


MAX_SIDE_FILE = 64 << 20  # bytes read from any one batch file (trace, marker, C++ result)


def _read_small(p: Path) -> bytes:
    """A regular file's bytes, refused (OSError) when larger than MAX_SIDE_FILE."""
    from mtcnn_core.safe_io import read_regular_file

    return read_regular_file(p, MAX_SIDE_FILE)


def traced_image_info(folder: Path, stem: str) -> dict:
    """The `image` block (file, sha256, size) of the batch's trace `<stem>.json`, {} if unreadable."""
    p = folder / f"{stem}.json"
    if not data_roots.inside(p, data_roots.configured_roots()):
        return {}
    try:
        info = json.loads(_read_small(p)).get("image")
    except (OSError, ValueError, AttributeError, RecursionError):
        return {}
    return info if isinstance(info, dict) else {}


def locate_inputs(
    folder: Path, file: str, images_dir: str = "", cpp_dir: str = "", row: dict | None = None
) -> RowInputs:
    """Find a row's image and C++ reference. The batch records neither path (row.json keeps only
    options and output names), so the image is looked for in `images_dir` (default: the batch
    folder) and its subfolders and checked against the trace's SHA-256, and the C++ file in
    `cpp_dir` as the batch's --cpp did (`<input stem>.json`, else `.csv`, plus
    `<input stem>.heatmaps.npz` beside a JSON). `row`: the summary row, which tells apart rows
    of the same file name (the same name in two input folders)."""
    stem, out = output_stem(folder, file, row), RowInputs()
    marker = read_marker(folder, stem)
    if marker is None:
        out.problems.append(
            f"{folder / (stem + '.row.json')} is missing or unreadable: this image did not finish in the batch."
        )
        return out
    if f"{stem}.compare.json" not in marker.get("files", []):
        out.problems.append("The batch ran without a C++ result for this image (no --cpp file).")
    opts = marker.get("options") or {}
    out.params, out.engine = opts.get("params"), opts.get("engine")
    out.tolerances = {k: float(opts[k]) for k in ("tol_px", "tol_score") if k in opts}
    out.image = _find_image(folder, file, stem, images_dir, out.problems)
    out.cpp, out.npz = _find_cpp(Path(Path(file).name).stem, cpp_dir, out.problems)
    return out


def output_stem(folder: Path, file: str, row=None) -> str:
    """The name the batch gave a row's outputs (batch_rows.py), from the completion markers,
    which record their row; same-named rows are told apart by the summary row's values."""
    name = Path(file).name
    found = []
    for stem in batch_rows.candidate_stems(folder, name):
        m = read_marker(folder, stem)
        if m is not None and isinstance(m.get("row"), dict) and m["row"].get("file") == name:
            found.append((stem, m["row"]))
    if not found:
        return Path(name).stem  # no marker: locate_inputs says the image did not finish
    same = [stem for stem, r in found if row is not None and batch_rows.same_row(r, row, SUMMARY_FIELDS)]
    return (same or [found[0][0]])[0]


def _look_in(text: str, default: Path | None, problems: list, what: str) -> Path | None:
    """The folder typed for `what` (default when blank), or None with REFUSED if outside the roots."""
    if not text.strip():
        return default
    where = data_roots.resolve_in_roots(text, data_roots.configured_roots())
    if where is None:
        problems.append(f"{what}: {data_roots.REFUSED}")
    return where


#: Files of a row's name whose SHA-256 is checked.
MAX_IMAGE_CANDIDATES = 16


def _find_image(folder: Path, file: str, stem: str, images_dir: str, problems: list) -> Path | None:
    """The file named `file` in the images folder or below it (the batch's inputs may come from
    several folders) whose SHA-256 is the traced one; only files inside the data roots."""
    where = _look_in(images_dir, folder, problems, "Images folder")
    if where is None:
        return None
    file = Path(file).name  # a name from summary.csv, never a path
    want = traced_image_info(folder, stem).get("sha256")
    roots, other = data_roots.configured_roots(), None
    for p in islice(batch_rows.same_name_files(where, file), MAX_IMAGE_CANDIDATES):
        if not data_roots.inside(p, roots):
            continue
        try:
            if not want or hashlib.sha256(_read_small(p)).hexdigest() == want:
                return p
        except OSError:
            continue
        other = other or p
    if other is not None:
        problems.append(f"{other} is not the file the batch traced (SHA-256 differs), nor is any {file} below {where}.")
    else:
        problems.append(
            f"Image {file} not found in {where} or its subfolders (the batch does not "
            "record input paths): enter the folder holding the images."
        )
    return None


def _find_cpp(stem: str, cpp_dir: str, problems: list):
    if not cpp_dir.strip():
        problems.append("Enter the C++ results folder given to the batch as --cpp.")
        return None, None
    where = _look_in(cpp_dir, None, problems, "C++ results folder")
    if where is None:
        return None, None
    roots = data_roots.configured_roots()
    for ext in (".json", ".csv"):
        p = where / (stem + ext)
        if p.is_file() and data_roots.inside(p, roots):
            npz = p.with_name(stem + ".heatmaps.npz")
            return p, (npz if ext == ".json" and npz.is_file() and data_roots.inside(npz, roots) else None)
    problems.append(f"No C++ result {stem}.json or {stem}.csv in {where}.")
    return None, None


#: Sidebar choices that opening a row keeps (the batch records no model set: the session's stays).
SESSION_CHOICES = ("model_set",)


def open_in_compare(inputs: RowInputs):
    """Button callback: make the row's image the current image, its C++ file the uploaded C++
    result of the C++ vs Python page, and the batch's parameters the current ones (a callback,
    because the sidebar's parameter widgets already exist when the page body runs)."""
    ss = st.session_state
    keep = {k: ss[k] for k in SESSION_CHOICES if k in ss}
    try:
        data = _read_small(inputs.image)
        cpp = _read_small(inputs.cpp)
        npz = _read_small(inputs.npz) if inputs.npz else None
    except OSError as e:
        ss.upload_error = f"Cannot open this row: {e.strerror or 'unreadable file'}."
        return
    ss.image = state.image_record(inputs.image.name, data, "upload")
    ss.upload_error = None
    ss.cpp_preset = {"name": inputs.cpp.name, "data": cpp, "npz": npz, "image_sha": ss.image["sha"]}
    ss.cpp_source = "Upload a C++ result"
    for k, v in (inputs.params or {}).items():
        if k in ss:
            ss[k] = v
    if inputs.engine in state.ENGINES:
        ss.engine = inputs.engine
    for k, v in inputs.tolerances.items():
        ss[k] = v
    for k, v in keep.items():  # the page switch must not drop the session's own choices
        ss[k] = v


# ---- drawing ---------------------------------------------------------------------------------
def _restore(key: str, allowed=None):
    """Give widget `key` back its last value after a page switch (Streamlit drops the state of
    widgets not drawn in a run; a plain shadow key survives). `allowed`: values still valid."""
    ss, shadow = st.session_state, "_keep_" + key
    if key not in ss and shadow in ss:
        v = ss[shadow]
        if allowed is not None:
            v = [x for x in v if x in allowed] if isinstance(v, list) else v
            if not isinstance(v, list) and v not in allowed:
                return
        ss[key] = v


def _remember(key: str, value):
    st.session_state["_keep_" + key] = value
    return value


def render():
    """Page body, inside the same error guard as every other page (no traceback is ever shown)."""
    page.ensure_shell()
    st.title("Dataset")
    st.caption(
        "Browse a batch run (`python -m mtcnn_core batch ... --out DIR`) and open any image on the C++ vs Python page."
    )
    try:
        _body()
    except SummaryError as e:
        st.error(str(e))
    except Exception as e:  # last resort, as ui.views.page.run_page does
        st.error(f"Unexpected problem ({type(e).__name__}): {str(e)[:300]}")


MAX_SUMMARY_BYTES = 16 << 20


def _body():
    roots = data_roots.configured_roots()
    text = ""
    if roots:
        _restore("dataset_dir")
        text = _remember(
            "dataset_dir",
            st.text_input(
                "Batch output folder on the server",
                key="dataset_dir",
                placeholder=str(roots[0]),
                help="The --out folder of a batch run; it must contain summary.csv and lie inside "
                f"the server's data roots ({data_roots.ENV}).",
            ),
        )
    else:
        st.caption(f"Reading folders on this server is off (no data roots: set {data_roots.ENV}).")
    up = quotas.kept(st.file_uploader("…or upload a summary.csv (table only)", type=["csv"], key="dataset_csv"))
    folder = batch_folder(text, roots)
    if folder is not None:
        try:
            data = _read_small(folder / "summary.csv")
        except OSError as e:
            raise SummaryError(f"{text}: summary.csv cannot be read ({e.strerror or 'not a file'}).")
        df = parse_summary(data, str(folder / "summary.csv"))
    elif up is not None:
        if up.size > MAX_SUMMARY_BYTES:
            raise SummaryError(f"{up.name} is larger than {MAX_SUMMARY_BYTES >> 20} MB.")
        df = parse_summary(up.getvalue(), up.name)
    else:
        st.info("Enter a batch output folder, or upload its summary.csv.")
        return
    _totals(df)
    shown = _filtered_table(df)
    if folder is None:
        st.caption("Open the batch folder (not just its summary.csv) to jump to an image.")
        return
    _open_row(folder, shown)


def _totals(df: pd.DataFrame):
    t = totals(df)
    for col, s in zip(st.columns(len(STATUSES)), STATUSES):
        col.metric(s, t[s])


def _filtered_table(df: pd.DataFrame) -> pd.DataFrame:
    c1, c2, c3 = st.columns([1, 2, 2])
    options = divergent_stages(df)
    for key, allowed in (("dataset_status", STATUS_FILTERS), ("dataset_stages", options), ("dataset_search", None)):
        _restore(key, allowed)
    status = _remember("dataset_status", c1.selectbox("Status", STATUS_FILTERS, key="dataset_status"))
    stages = _remember("dataset_stages", c2.multiselect("First divergent stage", options, key="dataset_stages"))
    search = _remember("dataset_search", c3.text_input("File name contains", key="dataset_search"))
    shown = filter_rows(df, status, stages, search)
    st.caption(f"{len(shown)} of {len(df)} image(s)")
    st.dataframe(shown, hide_index=True, width="stretch", key="dataset_table")
    return shown


def row_labels(shown: pd.DataFrame) -> dict:
    """{selectbox label: row index}: the file name, plus its summary.csv line where the same
    name occurs more than once (inputs of that name from several folders)."""
    names = shown["file"].value_counts()
    return {(f if names[f] == 1 else f"{f} (summary.csv line {i + 2})"): i for i, f in zip(shown.index, shown["file"])}


def _open_row(folder: Path, shown: pd.DataFrame):
    st.subheader("Open an image")
    if shown.empty:
        st.info("No image matches the filters.")
        return
    labels = row_labels(shown)
    for key, allowed in (("dataset_row", list(labels)), ("dataset_images_dir", None), ("dataset_cpp_dir", None)):
        _restore(key, allowed)
    label = _remember("dataset_row", st.selectbox("Image", list(labels), key="dataset_row"))
    row = shown.loc[labels[label]]
    file = row["file"]
    c1, c2 = st.columns(2)
    images_dir = _remember(
        "dataset_images_dir",
        c1.text_input(
            "Images folder",
            key="dataset_images_dir",
            placeholder=f"default: {folder}",
            help="Where the batch's input images are (it does not record paths).",
        ),
    )
    cpp_dir = _remember("dataset_cpp_dir", c2.text_input("C++ results folder (--cpp)", key="dataset_cpp_dir"))
    inputs = locate_inputs(folder, file, images_dir, cpp_dir, row)
    for p in inputs.problems:
        st.warning(p)
    if st.button(
        "Open in C++ vs Python", key="dataset_open", disabled=not inputs.ready, on_click=open_in_compare, args=(inputs,)
    ):
        st.switch_page(COMPARE_PAGE)
