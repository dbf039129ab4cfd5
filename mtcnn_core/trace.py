"""The `mtcnn-trace` record of one detection run (docs/trace_format.md), and its JSON/npz/CSV I/O.

A `Trace` holds every stage the C++ dumps, plus what the app needs to explain it (heatmaps,
regression maps, per-box fates). C++ reference files load into the same class, with the extra
fields left as None. Floats are written as the shortest decimal that round-trips their float32.
"""

from __future__ import annotations

import array
import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import TraceFormatError

FORMAT, VERSION = "mtcnn-trace", 1

# Fate codes for a box that entered a filtering step.
KEPT, BELOW_THRESHOLD, SUPPRESSED = 0, 1, 2
#: Left out of an NMS by a run's box cap (box_cap.py): the C++ would have processed it.
CAPPED = 3
FATE_NAMES = {
    KEPT: "kept",
    BELOW_THRESHOLD: "below threshold",
    SUPPRESSED: "suppressed by NMS",
    CAPPED: "cut by the box cap (the C++ would process it)",
}


@dataclass
class BoxSet:
    """n boxes: boxes (n, 4) float32 [x, y, w, h]; scores (n,) float32; corrections (n, 4) or None."""

    boxes: np.ndarray
    scores: np.ndarray
    corrections: np.ndarray | None = None

    def __len__(self):
        return len(self.boxes)

    @staticmethod
    def empty(with_corrections=True) -> "BoxSet":
        return BoxSet(
            np.zeros((0, 4), np.float32),
            np.zeros(0, np.float32),
            np.zeros((0, 4), np.float32) if with_corrections else None,
        )

    def take(self, idx) -> "BoxSet":
        idx = np.asarray(idx, dtype=np.intp)
        return BoxSet(self.boxes[idx], self.scores[idx], None if self.corrections is None else self.corrections[idx])


@dataclass
class Filtered:
    """How one NMS/threshold step treated its candidates (not in the C++ dump; for explanation).

    fate: (n,) int8 KEPT/BELOW_THRESHOLD/SUPPRESSED; suppressed_by: (n,) int32 index of the
    candidate whose overlap removed it (-1 if none); order: kept candidate indices in output order.
    """

    fate: np.ndarray
    suppressed_by: np.ndarray
    order: np.ndarray


@dataclass
class ScaleTrace:
    """One pyramid level: sizes, PNet maps and its proposals before/after the per-scale NMS 0.5."""

    index: int
    scale: float
    width: int
    height: int
    heatmap_width: int
    heatmap_height: int
    num_above_t1: int
    kept: BoxSet
    heatmap: np.ndarray | None = None  # (heatmap_height, heatmap_width) float32 face probability
    regression: np.ndarray | None = None  # (4, heatmap_height, heatmap_width) float32 dx1 dy1 dx2 dy2
    candidates: BoxSet | None = None  # every cell >= t1, in generation order (x outer, y inner)
    cells: np.ndarray | None = None  # (n_candidates, 2) int32 heatmap (row, col) of each candidate
    nms: Filtered | None = None  # fate of each candidate in the per-scale NMS


@dataclass
class NetStage:
    """RNet or ONet: its input squares, the net's outputs for every input, and what survived."""

    input: BoxSet  # rectified squares; scores = previous stage's score
    scores: np.ndarray  # (n,) float32 net probability per input
    corrections: np.ndarray  # (n, 4) float32 net regression per input
    kept: BoxSet
    filtered: Filtered | None = None  # per input: kept / below threshold / suppressed by whom
    corrected: BoxSet | None = None  # ONet only: boxes >= t3 after the +1 correction, pre-NMS
    landmarks: np.ndarray | None = None  # ONet only: (n, 10) x1..x5, y1..y5 in image pixels;
    # the C++ computes and discards these (not C++ output)


@dataclass
class Trace:
    """Everything one run of the cascade produced, stage by stage."""

    producer: str
    image: dict  # file, width, height, sha256
    params: dict  # min_face_size, t1, t2, t3, pyramid_factor
    scales: list | None  # [ScaleTrace]; None for a detections-only file
    merged: BoxSet | None
    merged_nms: Filtered | None
    rnet: NetStage | None
    onet: NetStage | None
    detections: BoxSet  # final boxes; scores = ONet confidence
    timing_ms: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    cap_cuts: list = field(default_factory=list)  # where a box cap cut boxes (box_cap.cap_cuts)

    @property
    def has_stages(self) -> bool:
        return self.scales is not None

    def heatmaps(self) -> dict:
        """{'pnet_prob_<i>': (h, w) float32} for the scales whose heatmap is known."""
        return {f"pnet_prob_{s.index}": s.heatmap for s in (self.scales or []) if s.heatmap is not None}

    # ---- serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = {
            "format": FORMAT,
            "version": VERSION,
            "producer": self.producer,
            "image": dict(self.image),
            "params": dict(self.params),
        }
        if self.has_stages:
            d["pnet"] = {
                "scales": [
                    {
                        "index": s.index,
                        "scale": float(s.scale),
                        "width": s.width,
                        "height": s.height,
                        "heatmap_width": s.heatmap_width,
                        "heatmap_height": s.heatmap_height,
                        "num_above_t1": s.num_above_t1,
                        "boxes": _rows(s.kept),
                        "corrections": _f32list(s.kept.corrections),
                    }
                    for s in self.scales
                ],
                "merged": {"boxes": _rows(self.merged), "corrections": _f32list(self.merged.corrections)},
            }
            for name, st in (("rnet", self.rnet), ("onet", self.onet)):
                kept = {"boxes": _rows(st.kept)}
                if name == "rnet":
                    kept["corrections"] = _f32list(st.kept.corrections)
                d[name] = {
                    "input": {"boxes": _rows(st.input)},
                    "scores": _f32list(st.scores),
                    "corrections": _f32list(st.corrections),
                    "kept": kept,
                }
        d["detections"] = _rows(self.detections)
        if self.timing_ms:
            d["timing_ms"] = {k: round(float(v), 3) for k, v in self.timing_ms.items()}
        if self.warnings:
            d["warnings"] = list(self.warnings)
        ext = self._extensions()
        if ext:
            d["mtcnn_lens"] = ext
        return d

    def _extensions(self) -> dict:
        """Our additions, kept under one key so C++-side readers can ignore them."""
        ext = {}
        if self.onet is not None and self.onet.landmarks is not None:
            ext["onet_landmarks"] = {
                "note": "computed by ONet, discarded by the C++; not C++ output",
                "points": _f32list(self.onet.landmarks),
            }
        for name, st in (("rnet", self.rnet), ("onet", self.onet)):
            if st is not None and st.filtered is not None:
                ext[f"{name}_fate"] = st.filtered.fate.tolist()
                ext[f"{name}_suppressed_by"] = st.filtered.suppressed_by.tolist()
        if self.cap_cuts:
            ext["box_cap_cuts"] = [dict(c) for c in self.cap_cuts]
        return ext

    def to_json(self) -> str:
        return _dump(self.to_dict())

    def save(self, path, heatmaps=False) -> list:
        """Write `<path>` (JSON) and, if asked, `<stem>.heatmaps.npz` beside it. Returns the paths."""
        path = Path(path)
        path.write_text(self.to_json())
        written = [path]
        if heatmaps and self.heatmaps():
            npz = heatmap_path(path)
            np.savez_compressed(npz, **self.heatmaps())
            written.append(npz)
        return written

    @staticmethod
    def from_json(text, heatmaps=None, source="trace") -> "Trace":
        """Parse trace JSON text (str/bytes); `heatmaps` is an optional npz path/bytes/file."""
        if len(text) > MAX_JSON_BYTES:
            raise TraceFormatError(f"{source}: {len(text):,} bytes of JSON, over the limit of {MAX_JSON_BYTES:,}")
        if isinstance(text, (bytes, bytearray)) and text.startswith(b"\xef\xbb\xbf"):
            text = text[3:]
        try:
            d = json.loads(text, parse_int=_bounded_int)
        except RecursionError:
            raise TraceFormatError(f"{source}: JSON nested too deeply") from None
        except (ValueError, UnicodeDecodeError) as e:
            raise TraceFormatError(f"{source}: not valid JSON ({str(e)[:200]})") from None
        trace = _trace_from_dict(d, source)
        if heatmaps is not None:
            attach_heatmaps(trace, heatmaps, source)
        return trace

    @staticmethod
    def load(path, heatmaps="auto") -> "Trace":
        """Read a trace JSON file; with heatmaps='auto' the `.heatmaps.npz` beside it is loaded too."""
        path = Path(path)
        text = _read_input(path)
        if heatmaps == "auto":
            heatmaps = heatmap_path(path) if heatmap_path(path).exists() else None
        return Trace.from_json(text, heatmaps=heatmaps, source=str(path))


#: Input bounds: bytes of a trace/CSV, rows of a detections CSV, digits of a JSON integer,
#: members and uncompressed bytes of a heatmaps npz.
MAX_JSON_BYTES = 256 << 20
MAX_CSV_BYTES = 64 << 20
MAX_CSV_ROWS = 200_000
MAX_INT_DIGITS = 18
MAX_NPZ_MEMBERS = 256
MAX_NPZ_BYTES = 1 << 30


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise TraceFormatError(f"an integer of {len(text)} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _read_input(path: Path) -> bytes:
    """A regular file's bytes under the size cap, or TraceFormatError naming the file."""
    from .safe_io import MAX_TRACE_BYTES, read_regular_file

    try:
        return read_regular_file(path, MAX_TRACE_BYTES)
    except OSError as e:
        raise TraceFormatError(f"{path}: cannot read ({e.strerror or e})") from None


def heatmap_path(json_path) -> Path:
    p = Path(json_path)
    name = p.name[:-5] if p.name.endswith(".json") else p.name
    return p.with_name(name + ".heatmaps.npz")


# ---- writing helpers --------------------------------------------------------------------------
def _f32list(a) -> list:
    """float32 values as Python floats whose repr is the shortest decimal of the float32."""
    if a is None:
        return []
    a = np.asarray(a, dtype=np.float32)
    return a.astype(str).astype(np.float64).tolist()


def _rows(bs: BoxSet) -> list:
    if bs is None or len(bs) == 0:
        return []
    return _f32list(np.concatenate([bs.boxes, bs.scores[:, None]], axis=1))


def _dump(v, indent="") -> str:
    """JSON with objects indented and each innermost number list on one line (diffable)."""
    if isinstance(v, dict):
        if not v:
            return "{}"
        inner = indent + "  "
        items = [f"{inner}{json.dumps(k)}: {_dump(x, inner)}" for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(v, list) and v and isinstance(v[0], (list, dict)):
        inner = indent + "  "
        return "[\n" + ",\n".join(inner + _dump(x, inner) for x in v) + "\n" + indent + "]"
    return json.dumps(v, allow_nan=False)


# ---- reading helpers --------------------------------------------------------------------------
def _need(d, key, where, kind=None):
    if not isinstance(d, dict) or key not in d:
        raise TraceFormatError(f"{where}: missing '{key}'")
    v = d[key]
    if kind is not None and not isinstance(v, kind):
        raise TraceFormatError(f"{where}.{key}: expected {kind.__name__ if isinstance(kind, type) else 'a number'}")
    return v


def _matrix(v, cols, where, allow_empty=True) -> np.ndarray:
    if not isinstance(v, list):
        raise TraceFormatError(f"{where}: expected a list of [{cols} numbers]")
    if not v:
        return np.zeros((0, cols), np.float32)
    try:
        a = np.array(v, dtype=np.float64)
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise TraceFormatError(f"{where}: every row must be {cols} numbers") from None
    if a.ndim != 2 or a.shape[1] != cols:
        raise TraceFormatError(f"{where}: every row must be {cols} numbers, got shape {a.shape}")
    bad = ~np.isfinite(a)
    if bad.any():
        r = int(np.argwhere(bad)[0][0])
        raise TraceFormatError(f"{where}[{r}]: contains NaN or infinity")
    return a.astype(np.float32)


def _vector(v, where) -> np.ndarray:
    if not isinstance(v, list):
        raise TraceFormatError(f"{where}: expected a list of numbers")
    return _matrix([[x] for x in v], 1, where)[:, 0] if v else np.zeros(0, np.float32)


def _boxset(d, where, corrections: bool) -> BoxSet:
    rows = _matrix(_need(d, "boxes", where), 5, f"{where}.boxes")
    corr = None
    if corrections:
        corr = _matrix(d.get("corrections", []), 4, f"{where}.corrections")
        if len(corr) != len(rows):
            raise TraceFormatError(f"{where}: {len(rows)} boxes but {len(corr)} corrections")
    return BoxSet(rows[:, :4].copy(), rows[:, 4].copy(), corr)


def _net_stage(d, where, kept_corrections) -> NetStage:
    inp = _boxset(_need(d, "input", where), f"{where}.input", False)
    scores = _vector(_need(d, "scores", where), f"{where}.scores")
    corr = _matrix(_need(d, "corrections", where), 4, f"{where}.corrections")
    if len(scores) != len(inp) or len(corr) != len(inp):
        raise TraceFormatError(f"{where}: {len(inp)} input boxes but {len(scores)} scores and {len(corr)} corrections")
    kept = _boxset(_need(d, "kept", where), f"{where}.kept", kept_corrections)
    return NetStage(inp, scores, corr, kept)


def _trace_from_dict(d, source) -> Trace:
    if not isinstance(d, dict):
        raise TraceFormatError(f"{source}: the top level must be a JSON object")
    fmt, ver = d.get("format"), d.get("version")
    if fmt is not None and fmt != FORMAT:
        raise TraceFormatError(f"{source}: format is {fmt!r}, expected {FORMAT!r}")
    if fmt is not None and ver != VERSION:
        raise TraceFormatError(f"{source}: version {ver!r} is not supported (expected {VERSION})")
    image = d.get("image") or {}
    params = d.get("params") or {}
    if not isinstance(image, dict) or not isinstance(params, dict):
        raise TraceFormatError(f"{source}: 'image' and 'params' must be objects")
    dets = _boxset({"boxes": _need(d, "detections", source)}, f"{source}.detections", False)
    if len(dets) and (dets.boxes[:, 2:] < 0).any():
        raise TraceFormatError(f"{source}.detections: a box has a negative width or height")
    if fmt is None:  # minimal form: detections (and maybe image) only
        return Trace("user detections", image, params, None, None, None, None, None, dets)
    pnet = _need(d, "pnet", source, dict)
    scales = []
    for i, s in enumerate(_need(pnet, "scales", f"{source}.pnet", list)):
        where = f"{source}.pnet.scales[{i}]"
        ints = {
            k: _need(s, k, where)
            for k in ("index", "width", "height", "heatmap_width", "heatmap_height", "num_above_t1")
        }
        for k, v in ints.items():
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise TraceFormatError(f"{where}.{k}: expected a non-negative integer, got {v!r}")
        scale = _need(s, "scale", where)
        if not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
            raise TraceFormatError(f"{where}.scale: expected a positive number, got {scale!r}")
        scales.append(ScaleTrace(scale=float(scale), kept=_boxset(s, where, True), **ints))
    merged = _boxset(_need(pnet, "merged", f"{source}.pnet", dict), f"{source}.pnet.merged", True)
    rnet = _net_stage(_need(d, "rnet", source, dict), f"{source}.rnet", True)
    onet = _net_stage(_need(d, "onet", source, dict), f"{source}.onet", False)
    ext = d.get("mtcnn_lens") or {}
    if isinstance(ext, dict):
        lm = ext.get("onet_landmarks")
        if isinstance(lm, dict) and lm.get("points"):
            onet.landmarks = _matrix(lm["points"], 10, f"{source}.mtcnn_lens.onet_landmarks")
    cuts = _cap_cuts(ext.get("box_cap_cuts") if isinstance(ext, dict) else None, source)
    timing = d.get("timing_ms") or {}
    warnings = d.get("warnings") or []
    return Trace(
        str(d.get("producer", "")),
        image,
        params,
        scales,
        merged,
        None,
        rnet,
        onet,
        dets,
        timing if isinstance(timing, dict) else {},
        [str(w) for w in warnings] if isinstance(warnings, list) else [],
        cuts,
    )


def _cap_cuts(cuts, source) -> list:
    """The optional `mtcnn_lens.box_cap_cuts` list (absent: [])."""
    if cuts is None:
        return []
    where = f"{source}.mtcnn_lens.box_cap_cuts"
    if not isinstance(cuts, list) or len(cuts) > 10_000:
        raise TraceFormatError(f"{where}: expected a list of cut records")
    out = []
    for i, c in enumerate(cuts):
        ok = (
            isinstance(c, dict)
            and c.get("stage") in ("pnet_scale", "pnet_merged")
            and all(
                isinstance(c.get(k), int) and not isinstance(c.get(k), bool) and c[k] >= 0
                for k in ("boxes", "processed")
            )
            and (c.get("index") is None or (isinstance(c["index"], int) and c["index"] >= 0))
        )
        if not ok:
            raise TraceFormatError(
                f"{where}[{i}]: expected stage 'pnet_scale' or 'pnet_merged', "
                "index, and non-negative integer boxes and processed"
            )
        out.append({k: c.get(k) for k in ("stage", "index", "boxes", "processed")})
    return out


def attach_heatmaps(trace: Trace, npz, source="trace"):
    """Load `pnet_prob_<i>` arrays (allow_pickle=False) into the trace's scales, checking shapes."""
    if not trace.has_stages:
        raise TraceFormatError(f"{source}: heatmaps need a full trace, not detections only")
    if isinstance(npz, (bytes, bytearray)):
        npz = io.BytesIO(npz)
    elif isinstance(npz, (str, Path)):
        npz = io.BytesIO(_read_input(Path(npz)))
    by_index = {s.index: s for s in trace.scales}
    try:
        arrays = _read_heatmap_members(npz, by_index, source)
    except TraceFormatError:
        raise
    except ValueError as e:
        raise TraceFormatError(
            f"{source} heatmaps: refused ({e}); only plain float arrays are accepted, never pickled objects"
        ) from None
    except Exception as e:  # zipfile.BadZipFile, OSError, EOFError ...
        raise TraceFormatError(f"{source} heatmaps: not a readable .npz file ({e})") from None
    for key, a in arrays.items():
        s = by_index[int(key[10:])]
        s.heatmap = a.astype(np.float32)


def _heatmap_key(name: str):
    """The scale index of a `pnet_prob_<i>.npy` member, else None (other members are skipped)."""
    key = name[:-4] if name.endswith(".npy") else name
    return int(key[10:]) if key.startswith("pnet_prob_") and key[10:].isdigit() and len(key) < 20 else None


def _read_heatmap_members(npz, by_index: dict, source) -> dict:
    """{'pnet_prob_<i>': array} read member by member: each member's declared size must fit the
    trace's heatmap (float64 at most) before a byte is decompressed; its .npy header (shape,
    dtype, no pickles) is checked before its data; members of no use are never decompressed."""
    import zipfile

    out = {}
    with zipfile.ZipFile(npz) as z:
        infos = z.infolist()
        if len(infos) > MAX_NPZ_MEMBERS:
            raise TraceFormatError(f"{source} heatmaps: {len(infos)} members, over the limit of {MAX_NPZ_MEMBERS}")
        for info in infos:
            i = _heatmap_key(info.filename)
            if i is None:
                continue
            key, s = f"pnet_prob_{i}", by_index.get(i)
            if s is None:
                raise TraceFormatError(f"{source} heatmaps: {key} has no scale {i} in the trace")
            want = s.heatmap_height * s.heatmap_width
            if info.file_size > min(8 * want + 4096, MAX_NPZ_BYTES):
                raise TraceFormatError(
                    f"{source} heatmaps: {key} declares {info.file_size:,} bytes, "
                    f"more than a {s.heatmap_height}x{s.heatmap_width} float map"
                )
            with z.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version not in ((1, 0), (2, 0)):
                    raise ValueError(f"unsupported .npy version {version}")
                read_header = (
                    np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read_header(f)
                if dtype.hasobject:
                    raise TraceFormatError(
                        f"{source} heatmaps: {key} refused (it holds pickled "
                        "objects); only plain float arrays are accepted"
                    )
                if dtype.kind != "f" or dtype.hasobject or tuple(shape) != (s.heatmap_height, s.heatmap_width):
                    raise TraceFormatError(
                        f"{source} heatmaps: {key} is {dtype} {tuple(shape)}, the trace "
                        f"says float {s.heatmap_height}x{s.heatmap_width}"
                    )
                raw = f.read(want * dtype.itemsize + 1)
            if len(raw) != want * dtype.itemsize:
                raise TraceFormatError(f"{source} heatmaps: {key} is truncated")
            a = np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if fortran else "C")
            out[key] = a
    return out


def detections_from_csv(text, source="detections.csv") -> Trace:
    """A CSV with header `x,y,w,h,confidence` as a detections-only Trace; errors give the line."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise TraceFormatError(f"{source}: not UTF-8 text") from None
    if len(text) > MAX_CSV_BYTES:
        raise TraceFormatError(f"{source}: {len(text):,} characters, over the limit of {MAX_CSV_BYTES:,}")
    want = ["x", "y", "w", "h", "confidence"]
    reader = csv.reader(io.StringIO(text, newline=""))  # \n, \r\n and lone \r line ends
    out = array.array("d")
    try:
        header = next(reader, None)
        if header is None or [c.strip().lower() for c in header] != want:
            raise TraceFormatError(f"{source} line 1: the header must be exactly x,y,w,h,confidence")
        for row in reader:
            _csv_row(row, reader.line_num, source, out)
            if len(out) > 5 * MAX_CSV_ROWS:
                raise TraceFormatError(f"{source}: more than {MAX_CSV_ROWS:,} rows")
    except csv.Error as e:
        raise TraceFormatError(f"{source} line {reader.line_num}: not valid CSV ({e})") from None
    a = np.frombuffer(out, np.float64).astype(np.float32).reshape(-1, 5)
    return Trace("user detections (CSV)", {}, {}, None, None, None, None, None, BoxSet(a[:, :4].copy(), a[:, 4].copy()))


def _csv_row(row: list, lineno: int, source, out):
    """Append one data row's 5 numbers to `out`; errors name the line and column, never the text."""
    if not row or all(not c.strip() for c in row):
        return
    if len(row) != 5:
        raise TraceFormatError(f"{source} line {lineno}: expected 5 columns, got {len(row)}")
    vals = []
    for col, c in zip(("x", "y", "w", "h", "confidence"), row):
        if len(c) > 64:
            raise TraceFormatError(f"{source} line {lineno}: value in column {col} is too long")
        try:
            vals.append(float(c))
        except ValueError:
            raise TraceFormatError(f"{source} line {lineno}: non-numeric value in column {col}") from None
    if not all(math.isfinite(v) for v in vals):
        raise TraceFormatError(f"{source} line {lineno}: NaN or infinity")
    if vals[2] < 0 or vals[3] < 0:
        raise TraceFormatError(f"{source} line {lineno}: negative width or height")
    out.extend(vals)


def detections_to_csv(trace: Trace) -> str:
    lines = ["x,y,w,h,confidence"]
    for row in _rows(trace.detections):
        lines.append(",".join(repr(v) for v in row))
    return "\n".join(lines) + "\n"


def _is_path(source) -> bool:
    """A Path, or a str that names a file rather than holding JSON/CSV text."""
    return isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and not source.lstrip().startswith("{")
    )


def load_any(source, name="upload", heatmaps="auto") -> Trace:
    """A trace JSON, a minimal detections JSON or a detections CSV, chosen by content.

    source: a path, or the file's bytes/text. heatmaps: npz bytes/path to attach, None for none,
    or "auto": the `.heatmaps.npz` beside a full-trace JSON path, if there is one.
    """
    path = Path(source) if _is_path(source) else None
    if path is not None:
        name = str(path)
        source = _read_input(path)
    data = source.encode() if isinstance(source, str) else bytes(source)
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] != b"{":  # a UTF-8 BOM may lead JSON too
        return detections_from_csv(data, source=name)
    if heatmaps != "auto":
        return Trace.from_json(data, heatmaps=heatmaps, source=name)
    trace = Trace.from_json(data, source=name)
    if path is not None and trace.has_stages and heatmap_path(path).exists():
        attach_heatmaps(trace, heatmap_path(path), name)
    return trace
