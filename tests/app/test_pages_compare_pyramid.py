"""AppTest of the C++ vs Python and Pyramid pages, including bad C++ uploads."""

import json

import pytest

from tests.app.conftest import SAMPLES, errors, new_app, no_exception


def test_compare_bundled_trace_is_bit_identical():
    at = new_app("pages/compare.py")
    no_exception(at)
    assert not errors(at)
    assert any("bit for bit" in s.value for s in at.success)
    # the chosen stage's boxes, every stage, per face
    assert len(at.dataframe) == 3
    assert at.selectbox(key="compare_stage").value == "detections"  # nothing diverges
    every = at.dataframe[1].value
    assert list(every["stage"])[-1] == "detections" and "rnet.kept" in list(every["stage"])
    assert set(every["result"]) == {"identical"}
    assert {m.label: m.value for m in at.metric}["only Python"] == "0"


def test_compare_reports_parameter_mismatch():
    at = new_app()
    at.session_state["min_face_size"] = 40
    at.run()
    at.switch_page("pages/compare.py").run()
    no_exception(at)
    assert any("min_face_size" in w.value for w in at.warning)


def test_compare_picks_mfs20_trace():
    at = new_app(image="astronaut.png")
    at.session_state["min_face_size"] = 20
    at.session_state["t1"] = 0.5
    at.run()
    at.switch_page("pages/compare.py").run()
    no_exception(at)
    assert any("astronaut__mfs20.json" in c.value for c in at.caption)
    assert not at.warning


BAD_TRACES = {
    "bad.json": b"{not json",
    "wrong.json": json.dumps({"format": "mtcnn-trace", "version": 1, "detections": [[1, 2]]}).encode(),
    "bad.csv": b"x,y,w,h,confidence\n1,2,three,4,0.9\n",
    "header.csv": b"a,b,c\n1,2,3\n",
}


@pytest.mark.parametrize("name", sorted(BAD_TRACES))
def test_bad_cpp_upload_gives_one_error(name):
    at = new_app("pages/compare.py")
    at.radio(key="cpp_source").set_value("Upload a C++ result").run()
    at.file_uploader(key="cpp_upload").set_value((name, BAD_TRACES[name], "text/plain")).run()
    no_exception(at)
    msgs = errors(at)
    assert len(msgs) == 1 and name in msgs[0], msgs
    assert at.session_state["image"]["name"] == "faces_at_scales.png"


def test_bad_npz_upload():
    at = new_app("pages/compare.py")
    at.radio(key="cpp_source").set_value("Upload a C++ result").run()
    trace = (SAMPLES / "cpp" / "faces_at_scales.json").read_bytes()
    at.file_uploader(key="cpp_upload").set_value(("faces_at_scales.json", trace, "application/json"))
    at.file_uploader(key="cpp_npz").set_value(("x.heatmaps.npz", b"PK\x03\x04garbage", "application/zip"))
    at.run()
    no_exception(at)
    assert not errors(at)  # a broken npz does not block the comparison ...
    why = [w.value for w in at.warning if "without heatmaps" in w.value]
    assert len(why) == 1 and "npz" in why[0]  # ... and the page says why it is left out
    assert any("bit for bit" in s.value for s in at.success)


def test_npz_of_another_image_still_compares_without_heatmaps():
    at = new_app("pages/compare.py")
    at.radio(key="cpp_source").set_value("Upload a C++ result").run()
    trace = (SAMPLES / "cpp" / "faces_at_scales.json").read_bytes()
    other = (SAMPLES / "cpp" / "astronaut.heatmaps.npz").read_bytes()
    at.file_uploader(key="cpp_upload").set_value(("faces_at_scales.json", trace, "application/json"))
    at.file_uploader(key="cpp_npz").set_value(("astronaut.heatmaps.npz", other, "application/zip"))
    at.run()
    no_exception(at)
    assert not errors(at)
    assert any("without heatmaps" in w.value for w in at.warning)
    assert any("bit for bit" in s.value for s in at.success)
    assert len(at.dataframe) == 3
    assert any("needs the C++ heatmaps" in c.value for c in at.caption)


def test_csv_upload_detections_only():
    at = new_app("pages/compare.py")
    at.radio(key="cpp_source").set_value("Upload a C++ result").run()
    csv = b"x,y,w,h,confidence\n10,10,50,50,0.99\n"
    at.file_uploader(key="cpp_upload").set_value(("mine.csv", csv, "text/csv")).run()
    no_exception(at)
    assert not errors(at)[1:]  # divergence verdict at most
    assert any("cannot be checked" in w.value for w in at.warning)
    assert len(at.dataframe) == 1


def test_pyramid_steps_through_levels():
    at = new_app("pages/pyramid.py")
    no_exception(at)
    assert at.session_state["pyr_level"] == 0
    at.button(key="pyr_next").click().run()
    no_exception(at)
    assert at.session_state["pyr_level"] == 1
    assert "Level 1" in at.markdown[0].value
    at.button(key="pyr_prev").click().run()
    at.button(key="pyr_prev").click().run()
    assert at.session_state["pyr_level"] == 0


def test_pyramid_level_survives_page_switch():
    at = new_app("pages/pyramid.py")
    at.button(key="pyr_next").click().run()
    at.switch_page("pages/detect.py").run()
    at.switch_page("pages/pyramid.py").run()
    no_exception(at)
    assert "Level 1" in at.markdown[0].value
