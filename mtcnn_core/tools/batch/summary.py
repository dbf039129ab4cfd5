"""summary.csv: one row per image (columns, statuses, totals), filled from a CompareReport."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .outputs import atomic_write

SUMMARY_FIELDS = [
    "file",
    "faces_cpp",
    "faces_py",
    "bit_identical",
    "first_divergent_stage",
    "max_abs_dx",
    "max_abs_dy",
    "max_abs_dw",
    "max_abs_dh",
    "min_iou",
    "max_dconfidence",
    "time_ms",
    "error",
]


STATUS_NAMES = {
    "identical": "bit-identical",
    "tol": "within tolerance",
    "diverges": "diverging",
    "failed": "failed",
    "nocpp": "no C++",
}


def row_status(row: dict) -> str:
    """identical / tol / diverges / failed / nocpp from a summary row alone (as `classify`: a row
    that is not bit-identical has a first divergent stage only if some stage is beyond tolerance)."""
    if row["error"]:
        return "failed"
    if row["bit_identical"] == "":
        return "nocpp"
    if row["bit_identical"] == "yes":
        return "identical"
    return "diverges" if row["first_divergent_stage"] else "tol"


def status_counts(rows) -> dict:
    """Number of rows per status, every status present."""
    kinds = [row_status(r) for r in rows]
    return {k: kinds.count(k) for k in STATUS_NAMES}


def empty_row(name) -> dict:
    return {k: "" for k in SUMMARY_FIELDS} | {"file": name}


def row_from_report(rep, row) -> dict:
    """Fill the summary columns from a CompareReport; return extras for report.html."""
    det = rep.stage("detections")
    row["faces_cpp"] = det.ref_count
    row["bit_identical"] = "yes" if rep.bit_identical else "no"
    row["first_divergent_stage"] = rep.first_divergent or ""
    for k in ("dx", "dy", "dw", "dh"):
        row[f"max_abs_{k}"] = _fmt(max((abs(getattr(p, k)) for p in det.pairs), default=0.0))
    row["min_iou"] = _fmt(det.min_iou)
    row["max_dconfidence"] = _fmt(det.max_dscore)
    deltas = [abs(float(getattr(p, k))) for p in det.pairs for k in ("dx", "dy", "dw", "dh")]
    stages = {
        s.name: ("identical" if s.bit_identical else "tol" if s.within_tolerance else "diverges") for s in rep.stages
    }
    return {"ok": rep.ok, "deltas": deltas, "stages": stages}


def _fmt(v) -> str:
    return repr(float(v))


def write_summary(path: Path, rows):
    """summary.csv, one row per image, in input order."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in SUMMARY_FIELDS})
    atomic_write(path, buf.getvalue())
