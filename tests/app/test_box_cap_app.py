"""The app caps the boxes per NMS (ui/box_cap_notice.APP_BOX_CAP) and says so: at t1=t2=t3=0 on a
640x480 photo with min face 12 every PNet cell is a candidate (146k; 43 s exact on 2 cores)."""

from __future__ import annotations

import cv2

import mtcnn_core as mc
from tests.app.conftest import SAMPLES, new_app, no_exception
from ui.box_cap_notice import APP_BOX_CAP

NAME = "crowded_640x480.png"


def photo_640x480() -> bytes:
    img = cv2.resize(cv2.imread(str(SAMPLES / "faces_at_scales.png")), (640, 480))
    return cv2.imencode(".png", img)[1].tobytes()


def cap_warnings(at) -> list[str]:
    return [w.value for w in at.warning if w.value.startswith("Box cap")]


def test_every_cell_run_is_capped_with_a_warning_naming_the_stage():
    at = new_app()
    assert not cap_warnings(at)  # the default sample: nothing cut
    at.sidebar.file_uploader(key="uploader").set_value((NAME, photo_640x480(), "image/png")).run()
    for key, value in (("t1", 0.0), ("t2", 0.0), ("t3", 0.0)):
        at.sidebar.slider(key=key).set_value(value)
    at.sidebar.number_input(key="min_face_size").set_value(12).run()
    no_exception(at)
    [text] = cap_warnings(at)
    # what the C++ would have processed: every cell of pyramid level 0's heatmap
    bgr = cv2.resize(cv2.imread(str(SAMPLES / "faces_at_scales.png")), (640, 480))
    level0 = mc.detect(bgr, min_face_size=12, t1=0, t2=0, t3=0, box_cap=APP_BOX_CAP).scales[0]
    cells = level0.heatmap_width * level0.heatmap_height
    assert f"{cells:,} boxes reached the NMS of pyramid level 0" in text
    assert f"only the {APP_BOX_CAP:,} highest-scored" in text and "C++" in text
    assert "command line" in text and "exact" in text
    assert at.session_state["image"]["name"] == NAME  # the user's image and settings are kept
    assert at.sidebar.slider(key="t1").value == 0.0

    for page in ("pages/cascade.py", "pages/pyramid.py"):  # pages that draw every box's fate
        at.switch_page(page).run()
        no_exception(at)
        assert cap_warnings(at) == [text]
