"""Real-browser smoke test: `streamlit run app.py` + Debian's Chromium via Playwright.

Opens every page, uploads an image through the sidebar widget, checks boxes are drawn and no
traceback appears, and saves screenshots to tests/artifacts/. With MTCNN_LENS_SCREENSHOTS=1 it also
refreshes the small README screenshots in docs/screenshots/. Skips if Chromium or Playwright is
missing; never downloads a browser.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
DOC_SHOTS = ROOT / "docs" / "screenshots"
# (url path, name, selector that appears once the page has rendered its content)
PAGES = [
    ("", "detect", "[data-testid=stImage]"),
    ("pyramid", "pyramid", ".js-plotly-plot"),
    ("cascade", "cascade", ".js-plotly-plot"),
    ("activations", "activations", "[data-testid=stImage]"),
    ("compare", "compare", ".js-plotly-plot"),
    ("dataset", "dataset", "[data-testid=stMarkdown]"),
    ("models", "models", "[data-testid=stDataFrame]"),
]
#: Page widths every page is looked at (and, with MTCNN_LENS_SCREENSHOTS=1, documented) at.
WIDTHS = (1400, 1024)
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(autouse=True, scope="module")
def _chromium():
    """Skips without Debian's chromium on a developer machine; under CI=true fails instead."""
    from tests.conftest import require_chromium

    require_chromium()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """A headless `streamlit run app.py` on a free port, stopped (by its own pid) afterwards."""
    port = free_port()
    log = open(ARTIFACTS / "streamlit.log", "w") if ARTIFACTS.mkdir(exist_ok=True) is None else None
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=1).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail("streamlit did not start")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def wait_idle(page, ready: str | None = None, timeout_s: float = 120):
    """Wait for the page's content, then until no progress bar/spinner is shown for a moment."""
    page.wait_for_selector("[data-testid=stAppViewContainer]", timeout=timeout_s * 1000)
    if ready:
        page.wait_for_selector(ready, timeout=timeout_s * 1000)
    deadline, quiet_since = time.time() + timeout_s, None
    busy = "[data-testid=stProgress], [data-testid=stSpinner], [data-testid=stStatusWidget]"
    while time.time() < deadline:
        running = page.locator(busy).count() > 0
        if running:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.time()
        elif time.time() - quiet_since > 1.5:
            return
        time.sleep(0.25)
    raise AssertionError("the app kept running")


def assert_clean(page, name):
    text = page.inner_text("body")
    assert "Traceback" not in text, name
    assert page.locator("[data-testid=stException]").count() == 0, name


def green_box_pixels(png: bytes) -> int:
    """Pixels of the face-box colour (ui.figures.draw.FACE_COLOUR) in an annotated image."""
    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int((np.abs(a - np.array([0, 200, 90])).sum(axis=2) < 40).sum())


def save_doc_shot(page, name):
    """A README screenshot (quantised, at most 1000 px wide, cut below the page's content)."""
    im = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    bottom = page.evaluate("""() => {
        const blocks = document.querySelectorAll('[data-testid=stMainBlockContainer] > div > *');
        let b = 0; blocks.forEach(e => { b = Math.max(b, e.getBoundingClientRect().bottom); });
        return Math.ceil(b) + 24; }""")
    im = im.crop((0, 0, im.width, min(im.height, max(int(bottom), 400))))
    if im.width > 1000:
        im = im.resize((1000, round(im.height * 1000 / im.width)), Image.LANCZOS)
    DOC_SHOTS.mkdir(parents=True, exist_ok=True)
    im.quantize(colors=256, dither=Image.Dither.NONE).save(DOC_SHOTS / f"{name}.png", optimize=True)


def no_skeletons(page):
    """Regression: charts stayed grey skeletons after the run on a first visit."""
    return page.locator("[data-testid=stSkeleton]").count() == 0


@pytest.fixture(scope="module")
def browser():
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


def test_every_page_and_an_upload(server, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    shots = os.environ.get("MTCNN_LENS_SCREENSHOTS") == "1"
    # the first request is a deep link: with a pages/ folder Streamlit would run that page file
    # alone (no app shell, no sidebar); ui.views.page.ensure_shell must recover
    page.goto(f"{server}/cascade")
    wait_idle(page, ".js-plotly-plot")
    assert page.locator("[data-testid=stSidebar] input[type=file]").count() == 1
    assert no_skeletons(page)
    for width in WIDTHS:
        # tall viewport: Streamlit scrolls inside the page, so a full-page screenshot would not
        page.set_viewport_size({"width": width, "height": 2400})
        for path, name, ready in PAGES:
            page.goto(f"{server}/{path}")
            wait_idle(page, ready)
            assert_clean(page, name)
            assert no_skeletons(page), name
            page.screenshot(path=str(ARTIFACTS / f"{name}_{width}.png"))
            if shots:
                save_doc_shot(page, f"{name}_{width}")
    page.set_viewport_size({"width": 1440, "height": 900})
    # the port debugger's view: a stage's boxes on the image, with the four categories counted
    page.goto(f"{server}/compare")
    wait_idle(page, ".js-plotly-plot")
    text = page.inner_text("body")
    assert "One stage on the image" in text and "only Python" in text and "Every stage" in text
    # upload through the real sidebar widget, then check boxes were drawn on the Detect page
    page.goto(server)
    wait_idle(page, PAGES[0][2])
    page.set_input_files("[data-testid=stSidebar] input[type=file]", str(ROOT / "sample_images" / "grace_hopper.jpg"))
    page.wait_for_selector("text=grace_hopper.jpg: 1 face(s)", timeout=120_000)
    wait_idle(page)
    assert_clean(page, "upload")
    src = page.locator("[data-testid=stImage] img").first.get_attribute("src")
    png = page.request.get(src if src.startswith("http") else server + src).body()
    assert green_box_pixels(png) > 100
    page.screenshot(path=str(ARTIFACTS / "upload.png"))
    # a bad upload shows one clear error and keeps the image
    bad = ARTIFACTS / "not_an_image.png"
    bad.write_bytes(b"definitely not a picture")
    page.set_input_files("[data-testid=stSidebar] input[type=file]", str(bad))
    page.wait_for_selector("[data-testid=stAlertContentError]", timeout=60_000)
    wait_idle(page)
    assert_clean(page, "bad upload")
    assert page.locator("text=grace_hopper.jpg: 1 face(s)").count() == 1
    page.screenshot(path=str(ARTIFACTS / "bad_upload.png"))
