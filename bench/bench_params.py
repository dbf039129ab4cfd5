"""Time of a parameter change: full recomputation (cache=False, as before the stage cache) vs
incremental (the process's stage cache), on a 1920x1080 photo.

Usage: python bench/bench_params.py [IMAGE] [--repeat N] [--threads T] [--app]

IMAGE defaults to ../shared's crowd photo (100 faces) if present, else sample_images/
faces_at_scales.png, resized to 1920x1080. Each row is a change a user makes in the sidebar,
applied to the state of the previous row; the median of `repeat` runs is printed (the cache is
restored to the previous row's state before each incremental run). --app also times the Detect
and Cascade pages' re-render after a t1 step in AppTest (server side, no browser).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402

import mtcnn_core as mc  # noqa: E402

try:
    from mtcnn_core.stage_cache import StageCache  # noqa: E402
except ImportError:  # the code before the stage cache (for the "before" column)
    StageCache = None

CROWD = ROOT.parent / "shared" / "reference" / "images" / "crowd_staff_aerial.jpg"
STEPS = [
    ("first detection", {}),
    ("t1 0.60 -> 0.61", {"t1": 0.61}),
    ("t2 0.70 -> 0.71", {"t1": 0.61, "t2": 0.71}),
    ("t3 0.70 -> 0.71", {"t1": 0.61, "t2": 0.71, "t3": 0.71}),
    ("t1 0.61 -> 0.50", {"t1": 0.50, "t2": 0.71, "t3": 0.71}),
    ("min face 60 -> 20", {"min_face_size": 20, "t1": 0.50, "t2": 0.71, "t3": 0.71}),
    ("min face 20 -> 60 (seen)", {"t1": 0.50, "t2": 0.71, "t3": 0.71}),
    ("min face 60 -> 85", {"min_face_size": 85, "t1": 0.50, "t2": 0.71, "t3": 0.71}),
]


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def bench_core(img, repeat: int, threads: int):
    models = mc.load_models()
    mc.detect(img, models=models, threads=threads, cache=False)  # JIT and page-in warm-up
    print(
        f"| change ({img.shape[1]}x{img.shape[0]}, {threads} thread(s)) | full run (ms) | "
        "incremental (ms) |\n|---|---|---|"
    )
    history = []
    for name, params in STEPS:
        full = statistics.median(
            timed(lambda: mc.detect(img, models=models, threads=threads, cache=False, **params)) for _ in range(repeat)
        )
        inc = []
        for _ in range(repeat):
            cache = StageCache(256 * 2**20)
            for p in history:  # the cache as the user's earlier steps left it
                mc.detect(img, models=models, threads=threads, cache=cache, **p)
            inc.append(timed(lambda: mc.detect(img, models=models, threads=threads, cache=cache, **params)))
        history.append(params)
        print(f"| {name} | {full:.0f} | {statistics.median(inc):.0f} |")


def bench_app(path: Path, img):
    """Detect, Cascade and Pyramid page re-render after t1/t2/t3 steps (AppTest, server side).
    Runs on the code before the stage cache too (copy this file into that checkout's bench/)."""
    import logging
    import tempfile

    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    init = PagesManager.__init__

    def init_v2(self, *a, **k):
        init(self, *a, **k)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init_v2
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    from ui.views import state

    data = cv2.imencode(".png", img)[1].tobytes()
    tmp = Path(tempfile.mkdtemp()) / "bench.png"
    tmp.write_bytes(data)
    print("\n| page | first render (ms) | t1 step (ms) | t2 step (ms) | t3 step (ms) |\n|---|---|---|---|---|")
    import streamlit as st

    for page in ("detect", "cascade", "pyramid"):
        st.cache_data.clear()  # each page starts cold: no step cached by another
        if StageCache is not None:
            mc.stage_cache.stage_cache().clear()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.session_state["image"] = state.image_record("bench.png", data, "upload")
        at.switch_page(f"pages/{page}.py")
        first = timed(at.run)
        row = []
        for key, value in (("t1", 0.61), ("t2", 0.71), ("t3", 0.71)):
            at.session_state[key] = value
            row.append(timed(at.run))
        assert not at.exception, at.exception
        print(f"| {page} | {first:.0f} | " + " | ".join(f"{v:.0f}" for v in row) + " |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image", nargs="?", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=mc.kernels.MAX_THREADS)
    ap.add_argument("--app", action="store_true")
    a = ap.parse_args(argv)
    path = a.image or (CROWD if CROWD.is_file() else ROOT / "sample_images" / "faces_at_scales.png")
    img = cv2.resize(mc.load_image(path), (1920, 1080), interpolation=cv2.INTER_LINEAR)
    print(f"image: {path.name} resized to 1920x1080\n")
    bench_core(img, a.repeat, a.threads)
    if a.app:
        bench_app(path, img)


if __name__ == "__main__":
    main()
