"""Real browser: the C++ vs Python page attributes each bundled C++ trace to its OpenFace build.

Uses the same server and Chromium fixtures as test_browser.py; with MTCNN_LENS_SCREENSHOTS=1 the
two screenshots go to docs/screenshots/ (compare_build_avx512.png, compare_build_avx2.png).
"""

from __future__ import annotations

import os

from .test_browser import ARTIFACTS, assert_clean, browser, save_doc_shot, server, wait_idle  # noqa: F401


def test_compare_page_names_the_build_of_each_bundled_trace(server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/compare")
    wait_idle(page, ".js-plotly-plot")
    assert "matches OpenFace built for AVX-512 CPUs" in page.inner_text("body")
    shots = {"avx512": page.screenshot()}
    page.get_by_text("AVX2 CPUs", exact=True).click()
    page.wait_for_function("document.body.innerText.includes('matches OpenFace built for AVX2 CPUs')", timeout=120_000)
    wait_idle(page, ".js-plotly-plot")
    body = page.inner_text("body")
    assert "matches OpenFace built for AVX2 CPUs" in body
    assert "agree bit for bit at every stage" in body
    assert_clean(page, "compare builds")
    shots["avx2"] = page.screenshot()
    ARTIFACTS.mkdir(exist_ok=True)
    for build, png in shots.items():
        (ARTIFACTS / f"compare_build_{build}.png").write_bytes(png)
    if os.environ.get("MTCNN_LENS_SCREENSHOTS") == "1":
        save_doc_shot(page, "compare_build_avx2")
        page.get_by_text("AVX-512 CPUs", exact=True).click()
        page.wait_for_function(
            "document.body.innerText.includes('matches OpenFace built for AVX-512 CPUs')", timeout=120_000
        )
        wait_idle(page, ".js-plotly-plot")
        save_doc_shot(page, "compare_build_avx512")
    page.close()
