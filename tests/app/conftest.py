"""Shared fixtures for the app tests: AppTest factory, sample bytes and bad-upload payloads."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

# AppTest (streamlit 1.67) resets PagesManager.uses_pages_directory before every run, and with a
# `pages/` folder beside app.py it then re-runs only the page file (MPA v1), skipping app.py and the
# sidebar. The real server switches to v2 for good once st.navigation runs; mirror that here.
_original_pm_init = PagesManager.__init__


def _pm_init_v2(self, *args, **kwargs):
    _original_pm_init(self, *args, **kwargs)
    PagesManager.uses_pages_directory = False


PagesManager.__init__ = _pm_init_v2

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
SAMPLES = ROOT / "sample_images"
TIMEOUT = 180
PAGES = [
    "pages/detect.py",
    "pages/pyramid.py",
    "pages/cascade.py",
    "pages/activations.py",
    "pages/compare.py",
    "pages/models.py",
]


def new_app(page: str | None = None, image: str | None = None) -> AppTest:
    """An AppTest of app.py, run once (optionally on a page, with another sample)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if image is not None:
        from ui.views import state

        at.session_state["image"] = state.image_record(image, (SAMPLES / image).read_bytes(), "sample")
    at.run()
    if page is not None:
        at.switch_page(page).run()
    return at


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png_header(side: int = 100_000) -> bytes:
    """A PNG whose header claims side x side pixels (decompression-bomb style), with no real data."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


BAD_IMAGES = {
    "not_an_image.png": b"this is plain text, not a picture\n" * 10,
    # cut before the frame header: cv::imread gets no image (a later cut decodes, like imread)
    "corrupt.jpg": (SAMPLES / "grace_hopper.jpg").read_bytes()[:300],
    "huge.png": huge_png_header(),
    "empty.png": b"",
}


def no_exception(at: AppTest):
    assert not at.exception, [e.value for e in at.exception]


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


@pytest.fixture(scope="session")
def sample_bytes():
    return {p.name: p.read_bytes() for p in SAMPLES.iterdir() if p.suffix in (".png", ".jpg")}


def run_batch_cli(*args, timeout=120) -> None:
    """`python -m mtcnn_core batch ARGS --workers 1` from the repository root; raises if it fails."""
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-m", "mtcnn_core", "batch", *map(str, args), "--workers", "1"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=timeout,
    )
