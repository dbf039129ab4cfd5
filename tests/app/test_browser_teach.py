"""Real-browser test of the teaching views (Debian Chromium via Playwright; skips without it):
click a PNet heatmap cell and follow it, follow a Cascade box with its occlusion map, step the
guided tour with the keyboard. With MTCNN_LENS_SCREENSHOTS=1 it refreshes docs/screenshots/teach_*.png.
"""

from __future__ import annotations

import io
import os
import time

from PIL import Image

from tests.app.test_browser import ARTIFACTS, DOC_SHOTS, assert_clean, browser, server, wait_idle  # noqa: F401


def shot(page, name: str, anchor: str):
    """Screenshot with `anchor` (a text) scrolled to the top; saved as an artifact and, if asked,
    as a README screenshot (960 px wide)."""
    page.get_by_text(anchor).first.scroll_into_view_if_needed()
    page.get_by_text(anchor).first.evaluate("e => e.scrollIntoView({block: 'start'})")
    time.sleep(1.5)
    png = page.screenshot()
    (ARTIFACTS / f"{name}.png").write_bytes(png)
    if os.environ.get("MTCNN_LENS_SCREENSHOTS") == "1":
        im = Image.open(io.BytesIO(png)).convert("RGB")
        im = im.resize((960, round(im.height * 960 / im.width)), Image.LANCZOS)
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        im.quantize(colors=256, dither=Image.Dither.NONE).save(DOC_SHOTS / f"{name}.png", optimize=True)


def test_teaching_views(server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(f"{server}/pyramid")
    wait_idle(page, ".js-plotly-plot")
    first = page.locator("h3", has_text="Cell (row").inner_text()
    # a click on the heatmap picks another cell (invisible click targets over the cells)
    area = page.locator(".st-key-pyr_heat .nsewdrag").first.bounding_box()
    page.mouse.move(area["x"] + area["width"] * 0.25, area["y"] + area["height"] * 0.6)
    time.sleep(0.7)
    page.mouse.down()
    page.mouse.up()
    time.sleep(1)
    wait_idle(page)
    assert page.locator("h3", has_text="Cell (row").inner_text() != first
    assert page.get_by_text("bit-identical ✓").count() >= 1
    assert_clean(page, "follow one cell")
    shot(page, "teach_cell", "Follow one cell")
    shot(page, "teach_cell_conv", "conv1, one output written out")

    page.goto(f"{server}/cascade")
    wait_idle(page, ".js-plotly-plot")
    assert page.locator("h3", has_text="RNet input #").count() == 1
    assert_clean(page, "follow one box")
    shot(page, "teach_box", "Follow this box")
    shot(page, "teach_occlusion", "Why is this a face?")

    page.goto(f"{server}/tour")
    wait_idle(page, ".js-plotly-plot")
    assert page.locator("h2", has_text="1. The image pyramid").count() == 1
    page.locator("h2", has_text="1. The image pyramid").click()  # focus the page, not a widget
    for _ in range(3):
        page.keyboard.press("ArrowRight")
        time.sleep(1)
        wait_idle(page)
    assert page.locator("h2", has_text="4. Non-maximum suppression").count() == 1
    assert_clean(page, "tour")
    shot(page, "teach_tour", "4. Non-maximum suppression")
