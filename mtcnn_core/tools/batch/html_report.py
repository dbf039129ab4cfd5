"""report.html: a self-contained page of totals, a delta histogram, per-stage divergence and
thumbnails of the worst images."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import cv2

from .summary import row_status

CSS = """body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}
.tot span{display:inline-block;margin-right:1.5em;font-size:1.2em}.ok{color:#080}.tol{color:#a60}
.bad{color:#c00}.thumbs div{display:inline-block;margin:6px;vertical-align:top;font-size:.8em}
.legend b{padding:0 6px}"""


def classify(res) -> str:
    """failed / identical / tol / diverges / nocpp (row_status of the result's summary row)."""
    return row_status(res["row"])


def render_report(results, paths: dict, out: Path, threads: int = 1) -> str:
    """Self-contained HTML: totals, delta histogram, per-stage divergence, worst thumbnails
    (decoded on `threads` threads: the batch's worker count)."""
    kinds = [classify(r) for r in results]
    tot = {k: kinds.count(k) for k in ("identical", "tol", "diverges", "failed", "nocpp")}
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>MTCNN batch report</title>"
        f"<style>{CSS}</style></head><body><h1>MTCNN batch report</h1>",
        f"<p>{len(results)} image(s)</p><p class='tot'>"
        f"<span class='ok'>bit-identical: {tot['identical']}</span>"
        f"<span class='tol'>within tolerance: {tot['tol']}</span>"
        f"<span class='bad'>diverging: {tot['diverges']}</span>"
        f"<span class='bad'>failed: {tot['failed']}</span>"
        f"<span>no C++ reference: {tot['nocpp']}</span></p>",
        "<h2>Final-box coordinate deltas |dx|,|dy|,|dw|,|dh| (px)</h2>",
        histogram_svg([d for r in results for d in r["extra"].get("deltas", [])]),
        "<h2>Stages per image</h2>",
        stage_table(results),
        "<h2>Worst images</h2>",
        "<p class='legend'><b style='color:#00c'>C++ (wide)</b><b style='color:#d00'>Python (thin, on top)</b></p>",
        thumbnails(results, kinds, paths, threads=threads),
        failures_table(results),
        "</body></html>\n",
    ]
    return "".join(parts)


HIST_BINS = [
    ("0", None, 0.0),
    ("<1e-6", 0.0, 1e-6),
    ("<1e-4", 1e-6, 1e-4),
    ("<1e-2", 1e-4, 1e-2),
    ("<1", 1e-2, 1.0),
    ("≥1", 1.0, math.inf),
]


def histogram_svg(deltas) -> str:
    """Inline SVG bar chart of deltas in decade bins (exact zeros get their own bar)."""
    counts = []
    for _, lo, hi in HIST_BINS:
        counts.append(
            sum(1 for d in deltas if (d == 0.0 if lo is None else lo < d <= hi if hi != math.inf else d > lo))
        )
    top, w, h = max(counts + [1]), 70, 160
    bars = []
    for i, ((label, _, _), c) in enumerate(zip(HIST_BINS, counts)):
        bh = 0 if c == 0 else max(2, round(h * c / top))
        x = 10 + i * (w + 10)
        bars.append(
            f"<rect x='{x}' y='{20 + h - bh}' width='{w}' height='{bh}' fill='#48a'/>"
            f"<text x='{x + w / 2}' y='{15 + h - bh}' text-anchor='middle'>{c}</text>"
            f"<text x='{x + w / 2}' y='{h + 38}' text-anchor='middle'>{html.escape(label)}</text>"
        )
    width = 10 + len(HIST_BINS) * (w + 10)
    return (
        f"<svg width='{width}' height='{h + 50}' "
        f"font-size='12'>{''.join(bars)}</svg><p>{len(deltas)} value(s) from paired final boxes</p>"
    )


def stage_table(results) -> str:
    """Per stage: images where it is bit-identical / only within tolerance / diverging."""
    counts = {}
    for r in results:
        for name, v in r["extra"].get("stages", {}).items():
            counts.setdefault(name, {"identical": 0, "tol": 0, "diverges": 0})[v] += 1
    first = {}
    for r in results:
        s = r["row"]["first_divergent_stage"]
        if s:
            first[s] = first.get(s, 0) + 1
    rows = "".join(
        f"<tr><td style='text-align:left'>{html.escape(n)}</td><td>{c['identical']}</td>"
        f"<td>{c['tol']}</td><td>{c['diverges']}</td><td>{first.get(n, 0)}</td></tr>"
        for n, c in sorted(counts.items(), key=lambda kv: _stage_key(kv[0]))
    )
    return (
        "<table><tr><th>stage</th><th>identical</th><th>within tol</th><th>diverges</th>"
        f"<th>first divergent here</th></tr>{rows}</table>"
        if rows
        else "<p>no comparisons</p>"
    )


def _stage_key(name):
    order = [
        "pyramid",
        "pnet.scale",
        "pnet.merged",
        "rnet.input",
        "rnet.scores",
        "rnet.kept",
        "onet.input",
        "onet.scores",
        "onet.kept",
        "detections",
    ]
    base = next((i for i, o in enumerate(order) if name.startswith(o)), len(order))
    num = int(name[10:]) if name.startswith("pnet.scale") and name[10:].isdigit() else 0
    return (base, num, name)


def _badness(res, kind) -> tuple:
    """Sort key: failed/diverging first, then by largest coordinate delta."""
    rank = {"failed": 0, "diverges": 1, "tol": 2, "identical": 3, "nocpp": 4}[kind]
    return (rank, -max(res["extra"].get("deltas", []) or [0.0]), res["row"]["file"])


def thumbnails(results, kinds, paths, n=8, threads=1) -> str:
    """The n worst images as base64 PNG thumbnails with C++ (blue) and Python (red) boxes;
    OpenCV releases the GIL while it decodes, so `threads` threads make them in parallel."""
    order = sorted(range(len(results)), key=lambda i: _badness(results[i], kinds[i]))[:n]

    def uri_of(i):
        return thumbnail_uri(paths.get(results[i]["stem"]), results[i]["extra"])

    if threads > 1 and len(order) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(threads, len(order))) as pool:
            uris = list(pool.map(uri_of, order))
    else:
        uris = [uri_of(i) for i in order]
    cells = []
    for i, uri in zip(order, uris):
        r = results[i]
        img = f"<img src='{uri}' alt='{html.escape(r['row']['file'])}'>" if uri else "<i>no preview</i>"
        cells.append(
            f"<div>{img}<br>{html.escape(r['row']['file'])}: {kinds[i]}"
            f"<br>{html.escape(r['row']['error'] or r['row']['first_divergent_stage'])}</div>"
        )
    return f"<div class='thumbs'>{''.join(cells)}</div>"


def thumbnail_uri(path, extra, size=220):
    """data: URI of a PNG thumbnail with both box sets drawn, or None if unreadable."""
    try:
        from ...images import decode_preview
        from ...safe_io import MAX_IMAGE_BYTES, read_regular_file

        img, (w, h) = decode_preview(read_regular_file(Path(path), MAX_IMAGE_BYTES), size, name=str(path))
    except Exception:
        return None
    s = size / max(w, h)
    th = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    # C++ drawn 3 px wide under a 1 px Python box, so identical boxes still show both colours
    for key, colour, width in (("cpp_boxes", (204, 0, 0), 3), ("py_boxes", (0, 0, 221), 1)):
        for x, y, w, h in extra.get(key, []):
            cv2.rectangle(th, (round(x * s), round(y * s)), (round((x + w) * s), round((y + h) * s)), colour, width)
    ok, png = cv2.imencode(".png", th)
    return "data:image/png;base64," + base64.b64encode(png.tobytes()).decode() if ok else None


def failures_table(results) -> str:
    """Failed rows with their reasons."""
    bad = [r["row"] for r in results if r["row"]["error"]]
    if not bad:
        return ""
    rows = "".join(
        f"<tr><td style='text-align:left'>{html.escape(r['file'])}</td>"
        f"<td style='text-align:left'>{html.escape(r['error'])}</td></tr>"
        for r in bad
    )
    return f"<h2>Failures</h2><table><tr><th>file</th><th>reason</th></tr>{rows}</table>"
