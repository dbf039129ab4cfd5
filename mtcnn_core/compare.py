"""Stage-by-stage comparison of two Traces (e.g. the C++ reference and this port)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import TraceFormatError
from .trace import Trace

F32 = np.float32


@dataclass
class Pair:
    """A reference box matched to a candidate box, with their differences (candidate - reference)."""

    ref: int
    cand: int
    iou: float
    dx: float
    dy: float
    dw: float
    dh: float
    dscore: float


@dataclass
class StageReport:
    """One stage: counts, pairing, worst deltas, and whether it matches bit for bit / within tolerance."""

    name: str
    ref_count: int
    cand_count: int
    pairs: list = field(default_factory=list)
    unmatched_ref: list = field(default_factory=list)
    unmatched_cand: list = field(default_factory=list)
    max_dxy: float = 0.0  # max |dx|, |dy|
    max_dwh: float = 0.0  # max |dw|, |dh|
    max_dscore: float = 0.0
    min_iou: float = 1.0
    bit_identical: bool = True
    within_tolerance: bool = True
    detail: str = ""

    def as_row(self) -> dict:
        return {
            "stage": self.name,
            "ref": self.ref_count,
            "cand": self.cand_count,
            "max |dx|,|dy|": self.max_dxy,
            "max |dw|,|dh|": self.max_dwh,
            "max |dscore|": self.max_dscore,
            "min IoU": self.min_iou,
            "bit-identical": self.bit_identical,
            "within tolerance": self.within_tolerance,
            "detail": self.detail,
        }


@dataclass
class CompareReport:
    stages: list
    notes: list
    heatmap_max_abs: dict  # scale index -> max |ref - cand| of the PNet probability map
    tol_px: float
    tol_score: float

    @property
    def ok(self) -> bool:
        return all(s.within_tolerance for s in self.stages)

    @property
    def bit_identical(self) -> bool:
        return all(s.bit_identical for s in self.stages)

    @property
    def first_divergent(self) -> str | None:
        """First stage not within tolerance (None if all are)."""
        return next((s.name for s in self.stages if not s.within_tolerance), None)

    @property
    def first_not_identical(self) -> str | None:
        return next((s.name for s in self.stages if not s.bit_identical), None)

    def stage(self, name) -> StageReport | None:
        return next((s for s in self.stages if s.name == name), None)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "bit_identical": self.bit_identical,
            "first_divergent": self.first_divergent,
            "first_not_identical": self.first_not_identical,
            "tol_px": self.tol_px,
            "tol_score": self.tol_score,
            "notes": self.notes,
            "heatmap_max_abs": {str(k): v for k, v in self.heatmap_max_abs.items()},
            "stages": [
                s.as_row() | {"unmatched_ref": s.unmatched_ref, "unmatched_cand": s.unmatched_cand} for s in self.stages
            ],
        }

    def format(self) -> str:
        lines = [
            f"{'stage':<16}{'ref':>6}{'cand':>6}{'max dxy':>11}{'max dwh':>11}{'max dscore':>12}{'min IoU':>9}  result"
        ]
        for s in self.stages:
            res = "identical" if s.bit_identical else ("within tol" if s.within_tolerance else "DIVERGES")
            lines.append(
                f"{s.name:<16}{s.ref_count:>6}{s.cand_count:>6}{s.max_dxy:>11.4g}"
                f"{s.max_dwh:>11.4g}{s.max_dscore:>12.4g}{s.min_iou:>9.4f}  {res}"
                + (f" ({s.detail})" if s.detail else "")
            )
        lines += [f"note: {n}" for n in self.notes]
        verdict = (
            "all stages bit-identical"
            if self.bit_identical
            else f"all stages within tolerance (first not bit-identical: {self.first_not_identical})"
            if self.ok
            else f"first divergent stage: {self.first_divergent}"
        )
        return "\n".join(lines + [verdict])


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) float64 IoU of float [x, y, w, h] boxes (for pairing, not the C++'s NMS overlap)."""
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = np.abs(a[:, 2] * a[:, 3])
    area_b = np.abs(b[:, 2] * b[:, 3])
    with np.errstate(divide="ignore", invalid="ignore"):
        out = inter / (area_a[:, None] + area_b[None] - inter)
    return np.nan_to_num(out.astype(np.float64))


#: Pairing works on blocks of at most this many (ref, candidate) IoUs, and keeps at most
#: MAX_PAIR_CANDIDATES overlaps >= min_iou, so memory is bounded whatever the box counts.
IOU_BLOCK = 1 << 20
MAX_PAIR_CANDIDATES = 4_000_000


def iou_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n,) float64 IoU of a[k] with b[k]: the diagonal of iou_matrix(a, b), computed alone."""
    iw = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    ih = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = inter / (np.abs(a[:, 2] * a[:, 3]) + np.abs(b[:, 2] * b[:, 3]) - inter)
    return np.nan_to_num(out.astype(np.float64))


def _overlaps(rb: np.ndarray, cb: np.ndarray, min_iou: float):
    """(iou, flat index i*m+j) of every pair with IoU >= min_iou, computed block by block."""
    m = len(cb)
    rows = max(1, IOU_BLOCK // max(m, 1))
    vals, flats, total = [], [], 0
    for r0 in range(0, len(rb), rows):
        ious = iou_matrix(rb[r0 : r0 + rows], cb)
        hit = np.flatnonzero(ious >= min_iou)
        total += len(hit)
        if total > MAX_PAIR_CANDIDATES:
            raise TraceFormatError(
                f"{len(rb)} x {len(cb)} boxes overlap in more than {MAX_PAIR_CANDIDATES:,} pairs; too many to pair"
            )
        vals.append(ious.ravel()[hit])
        flats.append(hit + r0 * m)
    if not vals:
        return np.zeros(0), np.zeros(0, np.int64)
    return np.concatenate(vals), np.concatenate(flats)


def pair_boxes(ref, cand, min_iou=0.3):
    """Pairs by position when both lists agree in order, else greedily by IoU. -> [(i, j, iou)].

    Greedy order is that of a stable sort of the whole IoU matrix (highest first, ties by
    position), over only the pairs >= min_iou, so memory stays bounded."""
    rb, cb = ref.boxes.astype(np.float64), cand.boxes.astype(np.float64)
    if len(rb) == len(cb) and len(rb) and np.all(np.abs(rb - cb) < 0.5 + 0.05 * np.abs(rb)):
        ious = iou_pairs(rb, cb)
        return [(i, i, float(ious[i])) for i in range(len(rb))]
    if not len(rb) or not len(cb):
        return []
    vals, flats = _overlaps(rb, cb, min_iou)
    pairs, used_r, used_c = [], set(), set()
    for k in np.lexsort((flats, -vals)):
        i, j = divmod(int(flats[k]), len(cb))
        if i in used_r or j in used_c:
            continue
        used_r.add(i), used_c.add(j)
        pairs.append((i, j, float(vals[k])))
    return sorted(pairs)


def _bits_equal(a, b) -> bool:
    a, b = np.asarray(a, F32), np.asarray(b, F32)
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def compare_boxes(name, ref, cand, tol_px, tol_score) -> StageReport:
    """Compare two BoxSets: pair them, measure deltas, judge identity and tolerance."""
    r = StageReport(name, len(ref), len(cand))
    r.bit_identical = _bits_equal(ref.boxes, cand.boxes) and _bits_equal(ref.scores, cand.scores)
    for i, j, iou in pair_boxes(ref, cand):
        d = cand.boxes[j].astype(np.float64) - ref.boxes[i].astype(np.float64)
        ds = float(cand.scores[j]) - float(ref.scores[i])
        r.pairs.append(Pair(i, j, iou, *map(float, d), ds))
    pr = {p.ref for p in r.pairs}
    pc = {p.cand for p in r.pairs}
    r.unmatched_ref = [i for i in range(len(ref)) if i not in pr]
    r.unmatched_cand = [j for j in range(len(cand)) if j not in pc]
    if r.pairs:
        r.max_dxy = max(max(abs(p.dx), abs(p.dy)) for p in r.pairs)
        r.max_dwh = max(max(abs(p.dw), abs(p.dh)) for p in r.pairs)
        r.max_dscore = max(abs(p.dscore) for p in r.pairs)
        r.min_iou = min(p.iou for p in r.pairs)
    r.within_tolerance = (
        r.ref_count == r.cand_count
        and not r.unmatched_ref
        and not r.unmatched_cand
        and max(r.max_dxy, r.max_dwh) <= tol_px
        and r.max_dscore <= tol_score
    )
    if r.unmatched_ref or r.unmatched_cand:
        r.detail = f"{len(r.unmatched_ref)} reference and {len(r.unmatched_cand)} candidate boxes unmatched"
    return r


def compare_values(name, ref, cand, tol, inputs: StageReport) -> StageReport:
    """Per-input values (net scores), compared along the pairing of the stage's input boxes.

    Pairing matters: a 1-ulp score change can swap two proposals in an NMS tie, so the same boxes
    may reach a net in another order.
    """
    ref, cand = np.asarray(ref, F32), np.asarray(cand, F32)
    r = StageReport(name, len(ref), len(cand))
    r.bit_identical = _bits_equal(ref, cand)
    pairs = [(p.ref, p.cand) for p in inputs.pairs]
    if pairs:
        i, j = np.array(pairs).T
        r.max_dscore = float(np.max(np.abs(ref[i].astype(np.float64) - cand[j])))
    r.within_tolerance = inputs.within_tolerance and r.max_dscore <= tol
    if not inputs.within_tolerance:
        r.detail = "input boxes differ"
    return r


def _notes(ref: Trace, cand: Trace) -> list:
    notes = []
    ri, ci = ref.image or {}, cand.image or {}
    if ri.get("width") and ci.get("width") and (ri["width"], ri.get("height")) != (ci["width"], ci.get("height")):
        notes.append(
            f"image size differs: reference {ri['width']}x{ri.get('height')}, "
            f"candidate {ci['width']}x{ci.get('height')}"
        )
    if ri.get("sha256") and ci.get("sha256") and ri["sha256"] != ci["sha256"]:
        notes.append("image files differ (SHA-256)")
    for k in ("min_face_size", "t1", "t2", "t3", "pyramid_factor"):
        a, b = (ref.params or {}).get(k), (cand.params or {}).get(k)
        if a is not None and b is not None and float(a) != float(b):
            notes.append(f"parameter {k} differs: reference {a}, candidate {b}")
    return notes


def compare(reference: Trace, candidate: Trace, tol_px=0.01, tol_score=1e-4) -> CompareReport:
    """Per-stage report: counts, paired boxes, max deltas, identity, and the first divergent stage."""
    stages, heat = [], {}
    if reference.has_stages and candidate.has_stages:
        rs, cs = reference.scales, candidate.scales
        pyr = StageReport("pyramid", len(rs), len(cs))
        sizes_r = [(s.width, s.height, s.heatmap_width, s.heatmap_height) for s in rs]
        sizes_c = [(s.width, s.height, s.heatmap_width, s.heatmap_height) for s in cs]
        pyr.bit_identical = pyr.within_tolerance = sizes_r == sizes_c and all(
            float(a.scale) == float(b.scale) for a, b in zip(rs, cs)
        )
        if not pyr.bit_identical:
            pyr.detail = "scale count, sizes or factors differ"
        stages.append(pyr)
        for a, b in zip(rs, cs):
            st = compare_boxes(f"pnet.scale{a.index}", a.kept, b.kept, tol_px, tol_score)
            if a.num_above_t1 != b.num_above_t1:
                st.bit_identical = st.within_tolerance = False
                st.detail = (
                    st.detail + "; " if st.detail else ""
                ) + f"cells >= t1: {a.num_above_t1} vs {b.num_above_t1}"
            if a.heatmap is not None and b.heatmap is not None and a.heatmap.shape == b.heatmap.shape:
                heat[a.index] = float(np.max(np.abs(a.heatmap.astype(np.float64) - b.heatmap)))
                if not _bits_equal(a.heatmap, b.heatmap):
                    st.bit_identical = False
                    st.within_tolerance &= heat[a.index] <= tol_score
                    st.detail = (st.detail + "; " if st.detail else "") + f"heatmap max |diff| {heat[a.index]:.3g}"
            stages.append(st)
        stages.append(compare_boxes("pnet.merged", reference.merged, candidate.merged, tol_px, tol_score))
        for name in ("rnet", "onet"):
            r, c = getattr(reference, name), getattr(candidate, name)
            inputs = compare_boxes(f"{name}.input", r.input, c.input, tol_px, tol_score)
            stages.append(inputs)
            stages.append(compare_values(f"{name}.scores", r.scores, c.scores, tol_score, inputs))
            stages.append(compare_boxes(f"{name}.kept", r.kept, c.kept, tol_px, tol_score))
    stages.append(compare_boxes("detections", reference.detections, candidate.detections, tol_px, tol_score))
    return CompareReport(stages, _notes(reference, candidate), heat, tol_px, tol_score)
