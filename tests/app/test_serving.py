"""Safe to serve: the server binds to loopback, and the Dataset page reads only inside its data
roots, answering every path outside them with the same message whether or not it exists."""

import os
import tomllib

import pytest

from tests.app.conftest import ROOT, SAMPLES, errors, new_app, no_exception, run_batch_cli
from ui import data_roots
from ui.views import dataset_view

PAGE = "pages/dataset.py"


def test_server_listens_on_loopback_by_default():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["address"] == "127.0.0.1"


def test_default_roots_depend_on_where_the_server_listens(monkeypatch):
    monkeypatch.delenv(data_roots.ENV, raising=False)
    assert data_roots.configured_roots("127.0.0.1") == [data_roots.DEFAULT_ROOT.resolve()]
    assert data_roots.configured_roots("0.0.0.0") == []
    assert data_roots.configured_roots("") == []  # unset address = every interface
    monkeypatch.setenv(data_roots.ENV, "")
    assert data_roots.configured_roots("127.0.0.1") == []


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A data root with a real batch folder, and outside it: a real batch folder, a secret file,
    a symlink from inside the root to the outside batch, and a C++ folder."""
    base = tmp_path_factory.mktemp("serve")
    root, outside = base / "root", base / "outside"
    root.mkdir()
    outside.mkdir()
    run_batch_cli(SAMPLES / "cameraman.png", "--out", root / "run")
    run_batch_cli(SAMPLES / "cameraman.png", "--out", outside / "run")
    (outside / "secret.txt").write_text("x,y,w,h,confidence\nTOP-SECRET,1,2,3,4\n")
    (outside / "cameraman.csv").write_text("x,y,w,h,confidence\nTOP-SECRET,1,2,3,4\n")
    (root / "link").symlink_to(outside / "run")
    return root, outside


def _dataset(root, text):
    os.environ[data_roots.ENV] = str(root)
    try:
        at = new_app(PAGE)
        at.text_input(key="dataset_dir").set_value(text).run()
    finally:
        del os.environ[data_roots.ENV]
    return at


def test_out_of_root_paths_get_one_identical_message(world):
    root, outside = world
    probes = [
        "/etc/shadow",
        "/root/.ssh/id_rsa",
        "/etc",
        "/no/such/folder",
        str(outside / "run"),
        str(outside / "secret.txt"),
        str(root / "link"),
        str(root / ".." / "outside" / "run"),
        "../outside/run",
        "~",
        "~root/.ssh",
    ]
    seen = set()
    for text in probes:
        at = _dataset(root, text)
        no_exception(at)
        msgs = errors(at)
        assert len(msgs) == 1, (text, msgs)
        seen.add(msgs[0])
        assert not at.dataframe, text
    assert seen == {data_roots.REFUSED}


def test_inside_root_folder_still_opens(world):
    root, _ = world
    for text in (str(root / "run"), "run"):
        at = _dataset(root, text)
        no_exception(at)
        assert not errors(at)
        assert len(at.dataframe[0].value) == 1


def test_row_lookups_outside_the_roots_are_refused_and_never_echo_contents(world, monkeypatch):
    root, outside = world
    monkeypatch.setenv(data_roots.ENV, str(root))
    for images, cpp in ((str(outside), str(outside)), ("/etc", "/etc"), ("../outside", "../outside")):
        got = dataset_view.locate_inputs(root / "run", "cameraman.png", images, cpp)
        text = " ".join(got.problems)
        assert not got.ready and got.image is None and got.cpp is None
        assert text.count(data_roots.REFUSED) == 2, got.problems
        assert "TOP-SECRET" not in text
    # a summary row naming a path (not a file name) is read as a bare name inside the folder
    got = dataset_view.locate_inputs(root / "run", "../../outside/secret.txt", str(root / "run"), "")
    assert got.image is None


def test_no_roots_turns_server_folders_off(monkeypatch):
    monkeypatch.setenv(data_roots.ENV, "")
    at = new_app(PAGE)
    no_exception(at)
    assert not [t for t in at.text_input if t.key == "dataset_dir"]
    assert any(data_roots.ENV in c.value for c in at.caption)
    with pytest.raises(dataset_view.SummaryError, match="not available"):
        dataset_view.batch_folder(str(SAMPLES), [])
