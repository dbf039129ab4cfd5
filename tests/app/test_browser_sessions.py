"""Two people on one real server at once (`streamlit run app.py` + Debian's Chromium): two browser
contexts upload different images under different names, one also a model set; neither ever shows
the other's file name or model set. Screenshots: tests/artifacts/sessions_*.png."""

from __future__ import annotations

import re
import shutil

from .test_browser import ARTIFACTS, ROOT, assert_clean, browser, server, wait_idle  # noqa: F401

ALICE, BOB = "alice_private_2024_medical.jpg", "bob_holiday_snaps.png"
SIDEBAR_FILE = "[data-testid=stSidebar] input[type=file]"


def visible_text(page) -> str:
    """What the session shows: the page text plus every select/input's value."""
    values = page.eval_on_selector_all("input, textarea", "els => els.map(e => e.value).join(' ')")
    return page.inner_text("body") + " " + values


def open_session(browser, server):  # noqa: F811
    ctx = browser.new_context(viewport={"width": 1400, "height": 1400})
    page = ctx.new_page()
    page.goto(server)
    wait_idle(page, "[data-testid=stImage]")
    return ctx, page


#: url path -> (page title, selector shown once its content is drawn)
PAGES = {
    "models": ("Models", "[data-testid=stDataFrame]"),
    "cascade": ("Cascade", ".js-plotly-plot"),
    "compare": ("C++ vs Python", "[data-testid=stMarkdown]"),
    "pyramid": ("Pyramid & PNet", ".js-plotly-plot"),
}


def go(page, path: str):
    """Switch page inside the session (a page load would start a new session)."""
    title, ready = PAGES[path]
    page.locator(f"[data-testid=stSidebarNav] a[href$='/{path}']").first.click()
    page.wait_for_selector(f"h1:has-text('{title}')", timeout=120_000)
    wait_idle(page, ready)


def model_set_options(page) -> list[str]:
    """The sidebar's model set choices, read from its opened dropdown."""
    box = page.locator("[data-testid=stSidebar] [data-testid=stSelectbox]").filter(has_text="Model set")
    for _ in range(3):  # a rerun finishing just then may close the dropdown again
        wait_idle(page)
        box.get_by_role("combobox").click()
        try:
            page.wait_for_selector("[role=option]", timeout=5_000)
        except Exception:
            page.keyboard.press("Escape")
            continue
        options = page.locator("[role=option]").all_inner_texts()
        page.keyboard.press("Escape")
        return options
    raise AssertionError("the model set dropdown did not open")


def upload_model_set(page, folder):
    go(page, "models")
    page.set_input_files(
        "[data-testid=stMain] input[type=file]", [str(folder / f"{n}.dat") for n in ("PNet", "RNet", "ONet")]
    )
    page.wait_for_selector("[data-testid=stMain] [data-testid=stFileUploader] >> text=ONet.dat", timeout=60_000)
    page.get_by_role("button", name="Validate and use this set").click()
    page.wait_for_selector("text=Loaded set: custom", timeout=120_000)
    wait_idle(page)


def test_two_sessions_never_see_each_others_names_or_models(server, browser, tmp_path):  # noqa: F811
    shutil.copy(ROOT / "sample_images" / "grace_hopper.jpg", tmp_path / ALICE)
    shutil.copy(ROOT / "sample_images" / "astronaut.png", tmp_path / BOB)
    models = tmp_path / "alice_models"
    shutil.copytree(ROOT / "models", models, ignore=shutil.ignore_patterns("*.txt", "*.md"))
    (ctx_a, alice), (ctx_b, bob) = open_session(browser, server), open_session(browser, server)
    try:
        # both upload at once, then wait for both results
        alice.set_input_files(SIDEBAR_FILE, str(tmp_path / ALICE))
        bob.set_input_files(SIDEBAR_FILE, str(tmp_path / BOB))
        alice.wait_for_selector(f"text={ALICE}: 1 face(s)", timeout=120_000)
        bob.wait_for_selector(f"text={BOB}: ", timeout=120_000)
        upload_model_set(alice, models)
        custom = re.search(r"custom ([0-9a-f]{8})", visible_text(alice)).group(1)
        for path in ("cascade", "models", "compare", "pyramid"):
            for page, own, other in ((alice, ALICE, BOB), (bob, BOB, ALICE)):
                go(page, path)
                assert_clean(page, path)
                text = visible_text(page)
                assert f"Current image: {own}" in text, (path, own)
                assert other not in text and other.split(".")[0] not in text, (path, own)
                if page is bob:
                    assert not re.search(r"custom [0-9a-f]{8}", text) and custom not in text, path
            assert model_set_options(bob) == ["bundled (models/)"], path
        alice.screenshot(path=str(ARTIFACTS / "sessions_alice.png"))
        bob.screenshot(path=str(ARTIFACTS / "sessions_bob.png"))
        assert "custom " + custom in visible_text(alice)  # alice keeps her own set
        assert any(custom in o for o in model_set_options(alice))
        # alice replaces her image (the old one is freed) and keeps working across pages
        second = tmp_path / "alice_second_scan.png"
        shutil.copy(ROOT / "sample_images" / "cameraman.png", second)
        alice.set_input_files(SIDEBAR_FILE, str(second))
        alice.wait_for_selector(f"text=Current image: {second.name}", timeout=120_000)
        for path in ("cascade", "models"):
            go(alice, path)
            assert_clean(alice, path)
            assert f"Current image: {second.name}" in visible_text(alice)
        go(bob, "cascade")
        assert "alice" not in visible_text(bob)
    finally:
        ctx_a.close()
        ctx_b.close()
