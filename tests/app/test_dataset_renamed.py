"""The Dataset page opens every row's own input when the batch renamed outputs for uniqueness:
`astronaut.png` beside `astronaut.jpg` (same stem) and `cameraman.png` in two folders (same
name), in a real batch run with the bundled C++ references."""

from __future__ import annotations

import hashlib
import os
import shutil

import cv2
import pytest

from tests.app.conftest import SAMPLES, errors, new_app, no_exception, run_batch_cli
from ui.views import dataset_view

PAGE = "pages/dataset.py"


@pytest.fixture(autouse=True)
def data_root(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MTCNN_LENS_DATA_ROOTS", str(tmp_path_factory.getbasetemp()))


@pytest.fixture(scope="module")
def renamed_batch(tmp_path_factory):
    """(batch --out folder, images root, C++ folder, {input path: sha256})."""
    root = tmp_path_factory.mktemp("renamed")
    x, y, z, cpp = (root / n for n in ("x", "y", "z", "cpp"))
    for d in (x, y, z, cpp):
        d.mkdir()
    shutil.copy(SAMPLES / "astronaut.png", x / "astronaut.png")
    astro = cv2.imread(str(SAMPLES / "astronaut.png"))
    cv2.imwrite(str(x / "astronaut.jpg"), astro, [cv2.IMWRITE_JPEG_QUALITY, 90])  # same stem
    shutil.copy(SAMPLES / "cameraman.png", y / "cameraman.png")
    cv2.imwrite(str(z / "cameraman.png"), cv2.imread(str(SAMPLES / "cameraman.png"))[:, ::-1])  # same name
    for n in ("astronaut", "cameraman"):
        for f in (f"{n}.json", f"{n}.heatmaps.npz"):
            shutil.copy(SAMPLES / "cpp" / f, cpp / f)
    out = root / "out"
    run_batch_cli(x, y, z, "--cpp", cpp, "--out", out, timeout=300)
    inputs = {
        p: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (x / "astronaut.png", x / "astronaut.jpg", y / "cameraman.png", z / "cameraman.png")
    }
    return out, root, cpp, inputs


def test_the_batch_renamed_them(renamed_batch):
    out, *_ = renamed_batch
    markers = sorted(p.name for p in out.glob("*.row.json"))
    assert "astronaut.png.row.json" in markers and "astronaut.jpg.row.json" in markers
    assert sum(m.startswith("cameraman.png-") for m in markers) == 2


def test_every_row_locates_its_own_input(renamed_batch):
    out, root, cpp, inputs = renamed_batch
    df = dataset_view.parse_summary((out / "summary.csv").read_bytes())
    assert len(df) == 4 and not df["error"].any()
    found = []
    for _, row in df.iterrows():
        got = dataset_view.locate_inputs(out, row["file"], str(root), str(cpp), row)
        assert got.ready, (row["file"], got.problems)
        assert got.image.name == row["file"] and got.cpp.name == f"{got.image.stem}.json"
        found.append(got.image)
    assert sorted(map(str, found)) == sorted(map(str, inputs))  # each input exactly once


def test_the_page_opens_a_renamed_row(renamed_batch):
    out, root, cpp, inputs = renamed_batch
    at = new_app(PAGE)
    at.text_input(key="dataset_dir").set_value(str(out)).run()
    labels = at.selectbox(key="dataset_row").options
    same_name = [lab for lab in labels if lab.startswith("cameraman.png (summary.csv line")]
    assert len(same_name) == 2 and "astronaut.jpg" in labels and "astronaut.png" in labels
    at.text_input(key="dataset_images_dir").set_value(str(root)).run()
    at.text_input(key="dataset_cpp_dir").set_value(str(cpp)).run()
    opened = set()
    for label in same_name + ["astronaut.jpg"]:
        at.switch_page(PAGE).run()
        at.selectbox(key="dataset_row").set_value(label).run()
        no_exception(at)
        assert not at.warning, [w.value for w in at.warning]
        at.button(key="dataset_open").click().run()
        no_exception(at)
        assert at.title[0].value == "C++ vs Python"
        # the flipped cameraman and the re-encoded astronaut differ from the C++ run, nothing else
        assert not [e for e in errors(at) if not e.startswith("First divergent stage")]
        opened.add(at.session_state["image"]["sha"])
    assert opened == {
        inputs[root / "y" / "cameraman.png"],
        inputs[root / "z" / "cameraman.png"],
        inputs[root / "x" / "astronaut.jpg"],
    }
    assert os.path.commonpath([str(root), str(out)]) == str(root)  # all inside the data root
