"""Decoding like OpenFace's OpenCV 4.6 cv::imread: formats it cannot read are still detected here
but with a plain warning; a truncated JPEG decodes to imread's partial pixels, with a note."""

import io
import os
import tempfile

import cv2
import numpy as np
import pytest
from conftest import ROOT
from PIL import Image

import mtcnn_core as mc

SAMPLE = ROOT / "sample_images" / "grace_hopper.jpg"


def imread_bytes(data: bytes, suffix: str):
    """cv2.imread of the bytes written to a private temporary file (imread needs a path)."""
    fd, path = tempfile.mkstemp(suffix=suffix)
    try:
        os.write(fd, data)
        os.close(fd)
        return cv2.imread(path, cv2.IMREAD_COLOR)
    finally:
        os.unlink(path)


def pil_bytes(fmt: str) -> bytes:
    rgb = cv2.imread(str(SAMPLE))[:, :, ::-1]
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["GIF", "AVIF"])
def test_formats_opencv_4_6_cannot_read_are_detected_with_a_warning(fmt):
    if fmt == "AVIF" and "AVIF" not in Image.SAVE:
        pytest.skip("this Pillow cannot write AVIF")
    data = pil_bytes(fmt)
    dec = mc.decode_image(data)
    assert dec.image.shape[2] == 3
    assert any("OpenFace would see no image" in n and fmt in n for n in dec.notes), dec.notes
    trace = mc.detect_bytes(data, f"x.{fmt.lower()}")
    assert "OpenFace would see no image" in trace.warnings[0]


@pytest.mark.parametrize(
    "fmt,suffix",
    [("PNG", ".png"), ("JPEG", ".jpg"), ("BMP", ".bmp"), ("TIFF", ".tif"), ("WEBP", ".webp"), ("PPM", ".ppm")],
)
def test_formats_opencv_4_6_reads_get_no_such_warning(fmt, suffix):
    dec = mc.decode_image(pil_bytes(fmt))
    assert not any("OpenFace would see no image" in n for n in dec.notes)


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.8, 0.97])
@pytest.mark.parametrize("progressive", [False, True])
def test_truncated_jpeg_decodes_to_imreads_pixels(fraction, progressive):
    img = cv2.imread(str(SAMPLE))
    data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive)])[1].tobytes()
    cut = data[: int(len(data) * fraction)]
    expected = imread_bytes(cut, ".jpg")
    assert expected is not None  # imread gives the partial image
    dec = mc.decode_image(cut)
    np.testing.assert_array_equal(dec.image, expected)
    assert any("truncated JPEG" in n for n in dec.notes)
    assert not any("OpenFace would see no image" in n for n in dec.notes)


def test_complete_jpeg_has_no_truncation_note():
    dec = mc.decode_image(SAMPLE.read_bytes())
    assert not dec.notes
