"""`python -m mtcnn_core batch`: serial = process pool = dask cluster, resume, bad input, report.html."""

import csv
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, SHARED, needs_shared, require_chromium, require_dask

from mtcnn_core.tools.cli import main

IMAGES = ["tiny_astronaut_96.png", "portrait_astronaut.png", "no_face_cat.png"]
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """3 reference images and their default-parameter C++ traces (+ heatmaps) in tmp folders."""
    base = tmp_path_factory.mktemp("batch_in")
    img, cpp = base / "images", base / "cpp"
    img.mkdir(), cpp.mkdir()
    for name in IMAGES:
        stem = Path(name).stem
        shutil.copy(SHARED / "reference" / "images" / name, img / name)
        for ext in (".json", ".heatmaps.npz"):
            shutil.copy(SHARED / "reference" / "cpp" / (stem + ext), cpp / (stem + ext))
    return img, cpp


def run(img, cpp, out, *extra):
    return main(["batch", str(img), "--out", str(out), "--cpp", str(cpp), "--heatmaps", *extra])


def deterministic_files(out: Path) -> dict:
    """Every output file's bytes, except the timing column/markers (wall-clock dependent)."""
    files = {
        p.name: p.read_bytes()
        for p in out.iterdir()
        if p.is_file() and not p.name.endswith(".row.json") and p.name != "summary.csv"
    }
    rows = list(csv.DictReader((out / "summary.csv").open()))
    for r in rows:
        r.pop("time_ms")
    files["summary.csv"] = repr(rows).encode()
    return files


@pytest.fixture(scope="module")
def serial(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    assert run(*inputs, out, "--workers", "1") == 0
    return out


@needs_shared
def test_serial_outputs(serial):
    rows = list(csv.DictReader((serial / "summary.csv").open()))
    assert [r["file"] for r in rows] == sorted(IMAGES)
    assert all(r["bit_identical"] == "yes" and not r["error"] for r in rows)
    for name in IMAGES:
        stem = Path(name).stem
        for ext in (".json", ".compare.json", ".heatmaps.npz", ".row.json"):
            assert (serial / (stem + ext)).is_file()
    assert not list(serial.glob("*.tmp"))


@needs_shared
def test_workers_2_identical(inputs, serial, tmp_path):
    assert run(*inputs, tmp_path, "--workers", "2") == 0
    assert deterministic_files(tmp_path) == deterministic_files(serial)


@needs_shared
def test_dask_local_cluster_identical(inputs, serial, tmp_path):
    require_dask()
    from dask import distributed

    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        assert run(*inputs, tmp_path, "--scheduler", cluster.scheduler_address) == 0
    assert deterministic_files(tmp_path) == deterministic_files(serial)


@needs_shared
def test_resume_skips_finished(inputs, serial, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(serial, out)
    victim = "portrait_astronaut"
    (out / f"{victim}.row.json").unlink()  # as if killed before the marker was written
    (out / f"{victim}.compare.json").unlink()
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert run(*inputs, out, "--workers", "1") == 0
    after = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    for name, t in before.items():
        if not name.startswith(victim) and name not in ("summary.csv", "report.html"):
            assert after[name] == t, f"{name} was rewritten"
    assert after[f"{victim}.json"] != before[f"{victim}.json"]
    assert (out / f"{victim}.compare.json").is_file() and (out / f"{victim}.row.json").is_file()
    assert deterministic_files(out) == deterministic_files(serial)


@needs_shared
def test_bad_inputs_fail_rows_only(inputs, tmp_path):
    img, cpp = inputs
    img2, cpp2 = tmp_path / "img", tmp_path / "cpp"
    shutil.copytree(img, img2), shutil.copytree(cpp, cpp2)
    (img2 / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    (cpp2 / "no_face_cat.json").write_text('{"format": "mtcnn_trace", "detections": [[1, 2')
    out = tmp_path / "out"
    assert run(img2, cpp2, out, "--workers", "2") == 1
    rows = {r["file"]: r for r in csv.DictReader((out / "summary.csv").open())}
    assert rows["corrupt.png"]["error"]
    assert "C++" in rows["no_face_cat.png"]["error"]
    for ok in ("tiny_astronaut_96.png", "portrait_astronaut.png"):
        assert rows[ok]["error"] == "" and rows[ok]["bit_identical"] == "yes"
    assert "corrupt.png" in (out / "report.html").read_text()


@needs_shared
def test_report_html_in_chromium(serial):
    html = (serial / "report.html").read_text()
    assert "http://" not in html and "https://" not in html
    assert "<svg" in html and "data:image/png;base64," in html
    require_chromium()
    from playwright import sync_api

    errors = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        page = browser.new_page()
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((serial / "report.html").as_uri())
        assert page.locator("h1").inner_text() == "MTCNN batch report"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "batch_report.png"), full_page=True)
        browser.close()
    assert errors == []
