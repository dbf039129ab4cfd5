"""Two sessions of one server process never see each other's file names or model sets, and
uploaded model sets are validated in memory, stored privately and removed with their session."""

import gc
import json
import stat
import tempfile
from pathlib import Path

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from mtcnn_core.dat_format import write_dat
from tests.app.conftest import ROOT, SAMPLES, errors, new_app, no_exception
from ui.views import models_view

DAT = {n: (ROOT / "models" / f"{n}.dat").read_bytes() for n in ("PNet", "RNet", "ONet")}
ALICE = "alice_private_2024_medical.jpg"


@pytest.fixture
def downloads(monkeypatch):
    """Every file a session is offered for download: [(filename, bytes)]."""
    got = []
    original = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, mimetype, kind, filename=None):
        if isinstance(path_or_data, (bytes, str)) and filename:
            got.append((filename, path_or_data if isinstance(path_or_data, bytes) else path_or_data.encode()))
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return got


def upload_image(at, name, data):
    at.sidebar.file_uploader(key="uploader").set_value((name, data, "image/jpeg")).run()
    no_exception(at)
    assert at.session_state["image"]["name"] == name


def test_same_bytes_in_two_sessions_keep_their_own_names(downloads):
    data = (SAMPLES / "grace_hopper.jpg").read_bytes()
    alice, bob = new_app(), new_app()
    upload_image(alice, ALICE, data)  # alice fills the shared caches first
    downloads.clear()
    upload_image(bob, "bob.jpg", data)  # bob hits them with the same bytes
    traces = [json.loads(d) for f, d in downloads if f.endswith(".json")]
    assert traces and all(t["image"]["file"] == "bob.jpg" for t in traces)
    assert not any(ALICE.encode() in d or ALICE in f for f, d in downloads)
    assert not any(ALICE in c.value for c in bob.caption)


def upload_models(at, files, custom=False):
    at.file_uploader(key="dat_upload").set_value([(name, data, "application/octet-stream") for name, data in files])
    at.run()
    if custom:
        at.checkbox(key="dat_custom_arch").check().run()
    at.button(key="dat_use").click().run()
    no_exception(at)


@pytest.fixture(autouse=True)
def own_tempdir(tmp_path, monkeypatch):
    """The app's per-session model folders go to this test's own temp folder, so other test runs
    on the machine (creating and removing theirs in the shared temp dir) cannot change the counts."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def private_dirs() -> set:
    return set(Path(tempfile.gettempdir()).glob("mtcnn_lens_models_*"))


def test_model_set_is_private_to_its_session_and_removed_when_replaced():
    before = private_dirs()
    alice, bob = new_app("pages/models.py"), new_app("pages/models.py")
    upload_models(alice, [(f"{n}.dat", d) for n, d in DAT.items()])
    assert not errors(alice)
    folder = Path(alice.session_state["model_sets"][alice.session_state["model_set"]])
    assert folder in private_dirs() - before
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    bob.run()
    assert list(bob.session_state["model_sets"]) == ["bundled (models/)"]
    assert bob.selectbox(key="model_set").options == ["bundled (models/)"]
    # the same set uploaded again by alice replaces (and removes) her previous folder
    upload_models(alice, [(f"{n}.dat", d) for n, d in DAT.items()])
    folder2 = Path(alice.session_state["model_sets"][alice.session_state["model_set"]])
    assert folder2 != folder and not folder.exists() and folder2.exists()
    # the session ending drops its state: the folder goes with it
    holder = alice.session_state[models_view.SET_KEY]
    del alice, holder
    gc.collect()
    assert not folder2.exists()
    assert private_dirs() - before == set()


def wide_pnet(channels=2000) -> bytes:
    """A valid PNet whose first conv has `channels` outputs (about 0.5 MB)."""
    import numpy as np

    from mtcnn_core.dat_format import ConvLayer, FCLayer, PReLULayer

    rng = np.random.default_rng(0)
    c1 = ConvLayer(rng.standard_normal((channels, 3, 3, 3)).astype(np.float32), np.zeros(channels, np.float32))
    return write_dat(
        [
            c1,
            PReLULayer(np.full(channels, 0.1, np.float32)),
            FCLayer(rng.standard_normal((6, channels)).astype(np.float32), np.zeros(6, np.float32)),
        ]
    )


@pytest.mark.parametrize("custom", [False, True])
def test_oversized_or_foreign_architecture_is_refused_before_any_write(custom):
    before = private_dirs()
    at = new_app("pages/models.py")
    upload_models(at, [("PNet.dat", wide_pnet()), ("RNet.dat", DAT["RNet"]), ("ONet.dat", DAT["ONet"])], custom=custom)
    msgs = errors(at)
    assert len(msgs) == 1 and msgs[0].startswith("Model files refused"), msgs
    assert ("over the limit" in msgs[0]) if custom else ("custom architecture" in msgs[0])
    assert at.session_state["model_set"] == "bundled (models/)"
    assert private_dirs() == before
