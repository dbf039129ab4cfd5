"""Per-session upload quotas (ui/views/quotas.py): over the byte or file limit the newest upload is not
kept, with one message, and the session's image, settings and other uploads stay; replacing the
image or model set frees the old one. The limits are lowered here so real files reach them."""

from __future__ import annotations

import pytest

from tests.app.conftest import ROOT, SAMPLES, errors, new_app, no_exception
from ui.views import quotas

CPP = SAMPLES / "cpp"
KB = 1024


@pytest.fixture
def small_quota(monkeypatch):
    monkeypatch.setattr(quotas, "MAX_SESSION_BYTES", 1000 * KB)


def upload_image(at, name):
    at.sidebar.file_uploader(key="uploader").set_value((name, (SAMPLES / name).read_bytes(), "image/png")).run()
    no_exception(at)


def quota_errors(at) -> list[str]:
    return [m for m in errors(at) if "this session already holds" in m or "uploaded files at once" in m]


def test_replacing_the_image_frees_the_old_one(small_quota):
    at = new_app()
    upload_image(at, "astronaut.png")  # 792 KB of the 1000 KB
    assert at.session_state["image"]["name"] == "astronaut.png"
    upload_image(at, "faces_at_scales.png")  # 458 KB: fits only because it replaces
    assert at.session_state["image"]["name"] == "faces_at_scales.png" and not quota_errors(at)
    upload_image(at, "astronaut.png")
    assert at.session_state["image"]["name"] == "astronaut.png" and not quota_errors(at)


def test_an_upload_over_the_quota_is_dropped_and_the_rest_stays(small_quota):
    at = new_app()
    upload_image(at, "astronaut.png")  # 792 KB
    at.sidebar.slider(key="t1").set_value(0.55).run()
    at.switch_page("pages/compare.py").run()
    at.radio(key="cpp_source").set_value("Upload a C++ result").run()
    at.file_uploader(key="cpp_upload").set_value(
        ("astronaut.json", (CPP / "astronaut.json").read_bytes(), "application/json")
    ).run()
    at.file_uploader(key="cpp_npz").set_value(
        ("astronaut.heatmaps.npz", (CPP / "astronaut.heatmaps.npz").read_bytes(), "application/zip")
    ).run()
    no_exception(at)
    assert not quota_errors(at)  # 792 + 9 + 16 KB
    big = (CPP / "faces_at_scales__mfs20.json").read_bytes()  # 125 KB replaces the 9 KB trace
    more = big + b" " * (200 * KB)  # JSON with trailing spaces: 325 KB
    at.file_uploader(key="cpp_upload").set_value(("big.json", more, "application/json")).run()
    no_exception(at)
    [msg] = quota_errors(at)
    assert msg.startswith("big.json (0.3 MB) was not kept") and "may hold 1.0 MB" in msg
    # the page never read it; what the session had stays: its image, its t1
    assert any(i.value.startswith("Upload a result written") for i in at.info)
    assert at.session_state["image"]["name"] == "astronaut.png"
    assert at.sidebar.slider(key="t1").value == 0.55
    # a trace that fits is compared as usual
    at.file_uploader(key="cpp_upload").set_value(
        ("astronaut.json", (CPP / "astronaut.json").read_bytes(), "application/json")
    ).run()
    no_exception(at)
    assert not quota_errors(at) and not any(i.value.startswith("Upload a result") for i in at.info)


def test_too_many_files_are_dropped_with_one_message():
    at = new_app("pages/models.py")
    dat = (ROOT / "models" / "PNet.dat").read_bytes()
    at.file_uploader(key="dat_upload").set_value(
        [(f"copy{i}.dat", dat, "application/octet-stream") for i in range(quotas.MAX_SESSION_FILES + 2)]
    ).run()
    no_exception(at)
    [msg] = quota_errors(at)
    assert msg.startswith("2 files not kept") and f"may hold {quotas.MAX_SESSION_FILES} uploaded files" in msg
