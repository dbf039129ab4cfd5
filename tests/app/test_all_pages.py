"""Every page renders every sample image without an exception or error; edge-case images too."""

import io

import numpy as np
import pytest
from PIL import Image

from tests.app.conftest import PAGES, errors, new_app, no_exception
from ui import samples


@pytest.mark.parametrize("image", samples.sample_names())
def test_every_page_renders_sample(image):
    at = new_app(image=image)
    for page in PAGES:
        at.switch_page(page).run()
        no_exception(at)
        assert not errors(at), (image, page, errors(at))
        assert at.title[0].value


def png_of(shape, mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8), mode).save(buf, "PNG")
    return buf.getvalue()


def test_too_small_image_is_explained_on_every_page():
    at = new_app()
    at.sidebar.file_uploader[0].set_value(("tiny.png", png_of((30, 30, 3)), "image/png")).run()
    for page in PAGES:
        at.switch_page(page).run()
        no_exception(at)
        assert not errors(at), page
        assert any("too small" in w.value for w in at.warning), page


def test_grey_and_rgba_uploads_work():
    at = new_app()
    for name, data in (("grey.png", png_of((80, 90), "L")), ("rgba.png", png_of((80, 90, 4), "RGBA"))):
        at.sidebar.file_uploader[0].set_value((name, data, "image/png")).run()
        no_exception(at)
        assert not errors(at)
        assert at.session_state["image"]["name"] == name
