"""The app shows the decoder's notes: OpenFace cannot read GIF/AVIF, a JPEG was truncated."""

import io

import cv2
import numpy as np
from PIL import Image

from tests.app.conftest import SAMPLES, errors, new_app, no_exception


def upload(at, name, data):
    at.sidebar.file_uploader(key="uploader").set_value((name, data, "image/" + name.split(".")[-1]))
    at.run()
    no_exception(at)
    assert at.session_state["image"]["name"] == name


def test_gif_upload_is_detected_with_the_openface_warning():
    buf = io.BytesIO()
    Image.open(SAMPLES / "astronaut.png").convert("RGB").save(buf, format="GIF")
    at = new_app()
    upload(at, "astronaut.gif", buf.getvalue())
    assert not errors(at)
    assert any("OpenFace would see no image" in w.value and "GIF" in w.value for w in at.warning)


def test_truncated_jpeg_upload_is_decoded_with_a_note():
    data = cv2.imencode(".jpg", cv2.imread(str(SAMPLES / "grace_hopper.jpg")))[1].tobytes()
    at = new_app()
    upload(at, "cut.jpg", data[: len(data) * 3 // 4])
    assert not errors(at)
    assert any("truncated JPEG" in w.value for w in at.warning)
    assert np.any([m.label == "final" for m in at.metric])
