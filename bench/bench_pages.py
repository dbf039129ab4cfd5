"""Server-side render time of every page on already-processed images (AppTest, no browser).

Usage: python bench/bench_pages.py [--images DIR_OR_FILE ...] [--repeat N] [--min-face 20 --t1 0.5]

For each image the detection is run once (warm-up, timed separately), then each page is rendered
`repeat` times from cache and the median is reported. Target: < 200 ms per page.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import logging  # noqa: E402

from streamlit.runtime.pages_manager import PagesManager  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from ui import samples  # noqa: E402
from ui.views import state  # noqa: E402

PAGES = ["detect", "pyramid", "cascade", "activations", "compare", "models"]
DEFAULT_IMAGES = [ROOT / "sample_images", ROOT.parent / "shared" / "reference" / "images"]
TARGET_MS = 200

# Same shim as tests/app/conftest.py: keep AppTest in st.navigation (v2) mode with a pages/ folder.
_pm_init = PagesManager.__init__


def _pm_init_v2(self, *a, **k):
    _pm_init(self, *a, **k)
    PagesManager.uses_pages_directory = False


PagesManager.__init__ = _pm_init_v2
logging.getLogger("streamlit").setLevel(logging.ERROR)


def image_files(paths) -> list[Path]:
    """Image files under the given files/folders."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if f.suffix.lower() in samples.IMAGE_SUFFIXES)
        elif p.is_file():
            out.append(p)
    return out


def timed_run(at: AppTest) -> float:
    t = time.perf_counter()
    at.run()
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    return (time.perf_counter() - t) * 1000


def bench_image(path: Path, repeat: int, params: dict) -> tuple[float, dict]:
    """(first run ms incl. detection, {page: median cached render ms}) for one image."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    source = "sample" if path.parent.resolve() == samples.SAMPLE_DIR else "upload"
    at.session_state["image"] = state.image_record(path.name, path.read_bytes(), source)
    for key, value in params.items():
        at.session_state[key] = value
    first = timed_run(at)
    times = {}
    for page in PAGES:
        at.switch_page(f"pages/{page}.py")
        timed_run(at)  # first visit may fill per-page caches (crops, forward passes)
        times[page] = statistics.median(timed_run(at) for _ in range(repeat))
    return first, times


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", nargs="*", default=[str(p) for p in DEFAULT_IMAGES if p.exists()])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--min-face", type=int, default=60)
    ap.add_argument("--t1", type=float, default=0.6)
    args = ap.parse_args(argv)
    params = {"min_face_size": args.min_face, "t1": args.t1}
    print(f"parameters: min face {args.min_face}, t1 {args.t1}")
    files = image_files(args.images)
    head = f"{'image':<30}{'detect+1st':>11}" + "".join(f"{p:>12}" for p in PAGES)
    print(head + "\n" + "-" * len(head))
    worst = {p: 0.0 for p in PAGES}
    for f in files:
        first, times = bench_image(f, args.repeat, params)
        for p in PAGES:
            worst[p] = max(worst[p], times[p])
        print(f"{f.name[:29]:<30}{first:>9.0f}ms" + "".join(f"{times[p]:>10.0f}ms" for p in PAGES), flush=True)
    print("-" * len(head))
    print(f"{'worst (cached render)':<30}{'':>11}" + "".join(f"{worst[p]:>10.0f}ms" for p in PAGES))
    slow = [p for p in PAGES if worst[p] > TARGET_MS]
    print(f"target < {TARGET_MS} ms per page: " + ("met" if not slow else f"missed on {', '.join(slow)}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
