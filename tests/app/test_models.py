"""AppTest of the Models page: provenance, layer tables, custom .dat uploads (good and bad)."""

import pytest

from tests.app.conftest import ROOT, errors, new_app, no_exception

DAT = {n: (ROOT / "models" / f"{n}.dat").read_bytes() for n in ("PNet", "RNet", "ONet")}


def upload(at, files):
    at.file_uploader(key="dat_upload").set_value([(name, data, "application/octet-stream") for name, data in files])
    at.run()
    at.button(key="dat_use").click().run()
    no_exception(at)


def test_models_page_shows_provenance_and_layers():
    at = new_app("pages/models.py")
    no_exception(at)
    prov = at.dataframe[0].value
    assert list(prov["network"]) == ["PNet", "RNet", "ONet"]
    assert set(prov["OpenFace 2.2.0's file"]) == {"yes"}
    assert len(at.tabs) == 3


def test_custom_set_upload_switches_models():
    at = new_app("pages/models.py")
    upload(at, [(f"my_{n.lower()}.dat", d) for n, d in DAT.items()])
    assert not errors(at)
    assert at.session_state["model_set"].startswith("custom ")
    at.switch_page("pages/detect.py").run()
    no_exception(at)
    assert {m.label: m.value for m in at.metric}["final"] == "6"


@pytest.mark.parametrize("case", ["truncated", "missing", "garbage"])
def test_bad_dat_upload_is_refused(case):
    at = new_app("pages/models.py")
    files = [(f"{n}.dat", d) for n, d in DAT.items()]
    if case == "truncated":
        files[1] = ("RNet.dat", DAT["RNet"][:1000])
    elif case == "missing":
        files = files[:2]
    else:
        files[0] = ("PNet.dat", b"\x00\x01garbage" * 10)
    upload(at, files)
    msgs = errors(at)
    assert len(msgs) == 1 and msgs[0].startswith("Model files refused"), msgs
    assert "\n" not in msgs[0]
    assert at.session_state["model_set"] == "bundled (models/)"
