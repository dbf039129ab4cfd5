"""Which OpenFace build produced a C++ result: run both builds, see which one it matches bit for bit.

The same OpenFace gives other last bits on an AVX-512 CPU (OpenBLAS SkylakeX kernels) than on an
AVX2-only CPU (Haswell kernel; semantics 6.8). A result that matches neither build is a real
difference (another OpenFace/OpenCV/BLAS, or a bug), and the nearer build says where it starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from .compare import CompareReport, compare
from .kernels import BUILDS

BUILD_LABELS = {
    "avx512": "OpenFace built for AVX-512 CPUs (OpenBLAS SkylakeX kernels)",
    "avx2": "OpenFace built for AVX2 CPUs (OpenBLAS Haswell kernel)",
}


def identical(report: CompareReport) -> bool:
    """Every stage bit-identical, and every PNet heatmap both sides have."""
    return report.bit_identical and all(v == 0 for v in report.heatmap_max_abs.values())


@dataclass
class BuildMatch:
    """The verdict: builds matched bit for bit, the per-build reports, and the nearer build."""

    matches: list  # builds whose result equals the C++'s bit for bit (0, 1 or 2)
    reports: dict  # build -> CompareReport (C++ result vs this port run as that build)
    nearest: str  # the matched build, else the one whose first difference comes later

    @property
    def build(self) -> str | None:
        """The one build matched, or None (none, or both because they agree on this input)."""
        return self.matches[0] if len(self.matches) == 1 else None

    def describe(self) -> str:
        if len(self.matches) == 2:
            return "matches both builds bit for bit (they give the same bits on this image)"
        if self.matches:
            return f"matches {BUILD_LABELS[self.matches[0]]} bit for bit"
        rep = self.reports[self.nearest]
        where = (
            f"first divergent stage {rep.first_divergent}"
            if rep.first_divergent
            else f"within tolerance, first not bit-identical: {rep.first_not_identical or 'heatmaps'}"
        )
        return f"matches neither build bit for bit; nearer: {self.nearest} ({where})"

    def to_dict(self) -> dict:
        return {
            "matches": self.matches,
            "nearest": self.nearest,
            "verdict": self.describe(),
            "first_not_identical": {b: r.first_not_identical for b, r in self.reports.items()},
        }


def _distance(report: CompareReport) -> tuple:
    """Sort key, smaller = nearer: index of the first non-identical stage from the end, then the
    number of such stages."""
    flags = [s.bit_identical for s in report.stages]
    first = flags.index(False) if False in flags else len(flags)
    heat = sum(1 for v in report.heatmap_max_abs.values() if v != 0)
    return (-first, flags.count(False), heat)


def identify_build(
    cpp, image=None, runs: dict | None = None, models=None, engine="exact", threads=1, tol_px=0.01, tol_score=1e-4
) -> BuildMatch:
    """Compare a C++ result (a Trace: full trace or final boxes from a CSV) with this port run
    as each build on `image` with the C++ result's parameters. `runs` may give ready port traces
    per build (e.g. the app's cached ones); missing builds are detected here."""
    from .cascade import DEFAULTS, detect

    runs = dict(runs or {})
    params = {k: (cpp.params or {}).get(k, v) for k, v in DEFAULTS.items()}
    params["min_face_size"] = int(params["min_face_size"])
    reports = {}
    for build in BUILDS:
        if build not in runs:
            if image is None:
                raise ValueError(f"no image to run the {build} build on")
            runs[build] = detect(image, models=models, engine=engine, cpp_build=build, threads=threads, **params)
        reports[build] = compare(cpp, runs[build], tol_px=tol_px, tol_score=tol_score)
    matches = [b for b in BUILDS if identical(reports[b])]
    nearest = matches[0] if matches else min(BUILDS, key=lambda b: _distance(reports[b]))
    return BuildMatch(matches, reports, nearest)
