"""Over the cost budget the app asks ("Run anyway", for this session, image and parameters only);
over the hard ceiling it refuses with one line naming the min face size that fits."""

from __future__ import annotations

import cv2
import pytest

from mtcnn_core.cost import pyramid_pixels
from tests.app.conftest import SAMPLES, errors, new_app, no_exception
from ui.views import cost_gate

W, H = 4000, 3000  # a 12-Mpixel phone photo (the bundled crowd scene, enlarged)


@pytest.fixture(scope="module")
def big_photo() -> bytes:
    img = cv2.resize(cv2.imread(str(SAMPLES / "faces_at_scales.png")), (W, H))
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()


def asking(at) -> list[str]:
    return [w.value for w in at.warning if w.value.startswith("Expensive run")]


def run_anyway(at):
    return [b for b in at.button if b.label == "Run anyway"]


def faces_caption(at) -> list[str]:
    return [i.caption for i in at.get("imgs")] if at.get("imgs") else []


def upload(at, data, name="phone.jpg"):
    at.sidebar.file_uploader(key="uploader").set_value((name, data, "image/jpeg")).run()
    no_exception(at)


def test_over_budget_asks_then_runs_this_image_and_parameters_only(big_photo):
    mfs = 20
    pixels = pyramid_pixels(H, W, mfs, 0.709)
    assert cost_gate.BUDGET_PIXELS < pixels <= cost_gate.CEILING_PIXELS
    at = new_app()
    upload(at, big_photo)
    at.sidebar.number_input(key="min_face_size").set_value(mfs).run()
    no_exception(at)
    [text] = asking(at)
    assert f"{pixels / 1e6:.1f} Mpixel" in text and "Estimated cost" in text and "GB" in text
    assert not errors(at) and len(run_anyway(at)) == 1
    assert not at.get("metric")  # nothing ran yet
    run_anyway(at)[0].click().run()
    no_exception(at)
    assert not asking(at) and not errors(at)
    assert [m.label for m in at.get("metric")][-1] == "final"  # the Detect page's counts

    # the confirmation is for these parameters: another t1 asks again ...
    at.sidebar.slider(key="t1").set_value(0.65).run()
    assert asking(at) and not at.get("metric")
    # ... and a second session never inherits it
    other = new_app()
    upload(other, big_photo, "other.jpg")
    other.sidebar.number_input(key="min_face_size").set_value(mfs).run()
    no_exception(other)
    assert asking(other) and not other.get("metric")


def test_over_the_ceiling_is_refused_with_one_line(big_photo):
    at = new_app()
    upload(at, big_photo)
    at.sidebar.number_input(key="min_face_size").set_value(12)
    at.sidebar.number_input(key="pyramid_factor").set_value(0.9).run()
    no_exception(at)
    assert pyramid_pixels(H, W, 12, 0.9) > cost_gate.CEILING_PIXELS
    [msg] = errors(at)
    assert "hard limit of 32 Mpixel" in msg and "min face size to at least" in msg
    assert not run_anyway(at) and not asking(at)
    at.sidebar.number_input(key="pyramid_factor").set_value(0.709)
    at.sidebar.number_input(key="min_face_size").set_value(60).run()
    no_exception(at)  # back in budget: runs, nothing lost
    assert not errors(at) and not asking(at) and at.session_state["image"]["name"] == "phone.jpg"
