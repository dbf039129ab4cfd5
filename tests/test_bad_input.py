"""Issue 4 (core side): real bad input gives a working result or the documented one-line error.

Every image is generated here (PIL / cv2 / numpy); nothing is downloaded.
"""

import io
import math
import shutil
import struct
import time
import tracemalloc
import zlib

import cv2
import numpy as np
import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import mtcnn_core as mc
from mtcnn_core.dat_format import parse_dat

MODELS = ROOT / "models"


# ---- helpers -------------------------------------------------------------------------------
def photo(h=120, w=160, seed=0):
    """A smooth-ish synthetic BGR uint8 image (compresses like a photo, not like noise)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(h // 8, 2), max(w // 8, 2), 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def cv_encode(img, ext, *params):
    ok, buf = cv2.imencode(ext, img, list(params))
    assert ok
    return buf.tobytes()


def pil_encode(im, fmt, **kw):
    out = io.BytesIO()
    im.save(out, fmt, **kw)
    return out.getvalue()


def cv_reference(data):
    """What cv::imread(IMREAD_COLOR) gives for these bytes."""
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def bomb_png(width=50_000, height=50_000) -> bytes:
    """A valid-looking PNG of a few dozen bytes whose IHDR declares width x height RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def assert_one_line(err):
    msg = str(err)
    assert msg and "\n" not in msg, msg


def assert_valid_image(img, shape=None):
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    if shape is not None:
        assert img.shape == shape


# ---- images: undecodable ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        b"hello, this is not an image\n" * 10,
        bytes(range(256)) * 4,
        b"\x89PNG\r\n\x1a\n" + b"garbage" * 20,
        b"\xff\xd8\xff" + b"\x00" * 100,
    ],
    ids=["text", "binary", "png-signature-only", "jpeg-soi-only"],
)
def test_not_an_image_is_image_error(data):
    with pytest.raises(mc.ImageError, match="not a decodable image") as e:
        mc.decode_image(data)
    assert_one_line(e.value)
    assert isinstance(e.value, mc.MTCNNInputError)


def test_empty_file_is_image_error(tmp_path):
    with pytest.raises(mc.ImageError, match="empty") as e:
        mc.decode_image(b"")
    assert_one_line(e.value)
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    with pytest.raises(mc.ImageError, match="empty.jpg.*0 bytes"):
        mc.load_image(p)


@pytest.mark.parametrize("fraction", [0.5, 0.1, 0.9])
def test_truncated_png_is_an_image_error(fraction):
    # libpng refuses a truncated PNG (cv::imread returns no image): one clear error
    data = cv_encode(photo(240, 320), ".png")
    cut = data[: int(len(data) * fraction)]
    with pytest.raises(mc.ImageError, match="not a decodable image") as e:
        mc.decode_image(cut)
    assert_one_line(e.value)


@pytest.mark.parametrize("fraction", [0.5, 0.1, 0.9])
def test_truncated_jpeg_decodes_like_imread_with_a_note(fraction):
    # libjpeg fills a truncated JPEG (cv::imread warns 'Premature end of JPEG file' and returns
    # the image): the full size, the rows present equal to the whole file's, and one note
    data = cv_encode(photo(240, 320), ".jpg")
    whole = mc.decode_image(data).image
    dec = mc.decode_image(data[: int(len(data) * fraction)])
    assert dec.image.shape == whole.shape
    assert len(dec.notes) == 1 and "truncated JPEG" in dec.notes[0]
    assert np.array_equal(dec.image[:8], whole[:8])


# ---- images: tiny -> empty trace with a warning ------------------------------------------------
@pytest.mark.parametrize(
    "h,w,min_face",
    [
        (1, 1, 60),
        (11, 11, 60),
        (40, 40, 60),
        (40, 300, 60),
        (1, 1, 12),
        (11, 11, 12),
        (11, 500, 12),
        (43, 200, 60),
        (59, 59, 60),
    ],
)
def test_too_small_image_gives_empty_trace_with_reason(h, w, min_face):
    img = mc.decode_image(cv_encode(photo(h, w), ".png")).image
    assert img.shape == (h, w, 3)
    trace = mc.detect(img, min_face_size=min_face)
    assert len(trace.detections.scores) == 0
    assert trace.warnings, "an empty result on a tiny image must say why"
    assert any("too small" in wmsg and str(min(h, w)) in wmsg for wmsg in trace.warnings), trace.warnings


def test_short_side_just_above_limit_runs_normally():
    img = photo(60, 200)  # short side == min_face_size: one pyramid level
    trace = mc.detect(img, min_face_size=60)
    assert len(trace.scales) >= 1
    assert not any("too small" in wmsg for wmsg in trace.warnings)


# ---- images: unusual but legitimate formats -------------------------------------------------
def test_16bit_png_is_reduced_to_8bit_like_imread():
    rng = np.random.default_rng(1)
    img16 = rng.integers(0, 65536, (50, 60, 3), dtype=np.uint16)
    data = cv_encode(img16, ".png")
    dec = mc.decode_image(data)
    assert_valid_image(dec.image, (50, 60, 3))
    np.testing.assert_array_equal(dec.image, cv_reference(data))
    np.testing.assert_array_equal(dec.image, (img16 >> 8).astype(np.uint8))


def test_16bit_grey_png():
    img16 = np.linspace(0, 65535, 40 * 30).reshape(40, 30).astype(np.uint16)
    dec = mc.decode_image(cv_encode(img16, ".png"))
    assert_valid_image(dec.image, (40, 30, 3))
    np.testing.assert_array_equal(dec.image[:, :, 0], (img16 >> 8).astype(np.uint8))


def test_palette_png():
    pal = Image.fromarray(photo()[:, :, ::-1]).quantize(16)
    assert pal.mode == "P"
    dec = mc.decode_image(pil_encode(pal, "PNG"))
    assert_valid_image(dec.image, (120, 160, 3))
    np.testing.assert_array_equal(dec.image[:, :, ::-1], np.asarray(pal.convert("RGB")))


def test_cmyk_jpeg():
    bgr = photo()
    data = pil_encode(Image.fromarray(bgr[:, :, ::-1]).convert("CMYK"), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    dec = mc.decode_image(data)
    assert_valid_image(dec.image, (120, 160, 3))
    # colours survive the CMYK round trip (not inverted, not channel-swapped)
    assert np.abs(dec.image.astype(int) - bgr.astype(int)).mean() < 8


def _frames(size=(50, 40), values=(10, 200, 100)):
    return [Image.fromarray(np.full((size[1], size[0], 3), v, np.uint8)) for v in values]


@pytest.mark.parametrize("fmt,kw", [("GIF", {}), ("WEBP", {"lossless": True})], ids=["gif", "webp"])
def test_animation_uses_first_frame_and_says_so(fmt, kw):
    frames = _frames()
    data = pil_encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **kw)
    dec = mc.decode_image(data)
    assert_valid_image(dec.image, (40, 50, 3))
    assert np.abs(dec.image.astype(int) - 10).max() <= 2, "must be the first frame"
    assert any("first frame" in n for n in dec.notes), dec.notes


def test_still_gif_has_no_animation_note():
    dec = mc.decode_image(pil_encode(_frames(values=(77,))[0], "GIF"))
    assert_valid_image(dec.image, (40, 50, 3))
    assert not any("first frame" in n for n in dec.notes)


@pytest.mark.parametrize("orientation,rotated", [(1, False), (3, False), (6, True), (8, True)])
def test_exif_orientation_is_applied_like_imread(orientation, rotated):
    im = Image.fromarray(photo(120, 160)[:, :, ::-1])
    exif = im.getexif()
    exif[0x0112] = orientation
    data = pil_encode(im, "JPEG", exif=exif.tobytes(), quality=95)
    dec = mc.decode_image(data)
    assert dec.image.shape == ((160, 120, 3) if rotated else (120, 160, 3))
    np.testing.assert_array_equal(dec.image, cv_reference(data))


def test_rgba_png_alpha_dropped():
    bgr = photo()
    alpha = np.tile(np.linspace(0, 255, 160).astype(np.uint8), (120, 1))
    dec = mc.decode_image(cv_encode(np.dstack([bgr, alpha]), ".png"))
    np.testing.assert_array_equal(dec.image, bgr)  # not composited over black/white


def test_grey_and_la_png_become_three_channels():
    grey = photo()[:, :, 0]
    dec = mc.decode_image(pil_encode(Image.fromarray(grey).convert("LA"), "PNG"))
    assert_valid_image(dec.image, (120, 160, 3))
    np.testing.assert_array_equal(dec.image[:, :, 1], grey)


# ---- images: decompression bombs and size limit ---------------------------------------------
def _gif_declaring(w, h):
    data = bytearray(pil_encode(_frames(values=(5,))[0], "GIF"))
    data[6:10] = struct.pack("<HH", w, h)  # logical screen descriptor
    return bytes(data)


def _jpeg_declaring(w, h):
    data = bytearray(cv_encode(photo(16, 16), ".jpg"))
    sof = data.find(b"\xff\xc0")
    assert sof > 0
    data[sof + 5 : sof + 9] = struct.pack(">HH", h, w)
    return bytes(data)


@pytest.mark.parametrize(
    "make",
    [
        lambda: bomb_png(),
        lambda: bomb_png(100_000, 30_000),
        lambda: _jpeg_declaring(65_000, 65_000),
        lambda: _gif_declaring(65_000, 65_000),
    ],
    ids=["png-50000x50000", "png-100000x30000", "jpeg-65000x65000", "gif-65000x65000"],
)
def test_decompression_bomb_refused_before_decoding(make, monkeypatch):
    data = make()
    assert len(data) < 5000

    def no_decode(*a, **k):
        raise AssertionError("cv2.imdecode called on a bomb")

    monkeypatch.setattr(cv2, "imdecode", no_decode)
    with pytest.raises(mc.ImageError, match="over the limit of 50,000,000.*refused before decoding") as e:
        mc.decode_image(data)
    assert_one_line(e.value)


def test_png_declaring_zero_size_is_refused():
    with pytest.raises(mc.ImageError, match="empty image"):
        mc.decode_image(bomb_png(0, 100))


def test_max_pixels_is_configurable(tmp_path):
    data = cv_encode(photo(100, 100), ".png")
    assert mc.decode_image(data, max_pixels=10_000).image.shape == (100, 100, 3)
    with pytest.raises(mc.ImageError, match="10,000 pixels, over the limit of 9,999"):
        mc.decode_image(data, max_pixels=9_999)
    p = tmp_path / "x.png"
    p.write_bytes(data)
    with pytest.raises(mc.ImageError, match="limit of 5,000"):
        mc.load_image(p, max_pixels=5_000)
    with pytest.raises(mc.ImageError, match="limit"):
        mc.load_image(bomb_png(200, 200), max_pixels=1_000)


def test_large_legitimate_image_decodes():
    big = photo(2000, 3000, seed=3)
    dec = mc.decode_image(cv_encode(big, ".jpg", cv2.IMWRITE_JPEG_QUALITY, 90))
    assert_valid_image(dec.image, (2000, 3000, 3))
    assert dec.notes == []
    assert np.abs(dec.image.astype(int) - big.astype(int)).mean() < 4


# ---- .dat fuzzing ----------------------------------------------------------------------------
DAT = {name: (MODELS / f"{name}.dat").read_bytes() for name in ("PNet", "RNet")}

_mutation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
    st.tuples(
        st.just("int32"),
        st.floats(0, 1, exclude_max=True),
        st.sampled_from([0, -1, 1, 2, 3, 4, 5, 0x7FFFFFFF, -0x80000000, 0x10000, 1 << 20, 46341])
        | st.integers(-(2**31), 2**31 - 1),
    ),
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True), st.just(0)),
    st.tuples(st.just("insert"), st.floats(0, 1, exclude_max=True), st.binary(min_size=1, max_size=64)),
)


def mutate(data: bytes, ops) -> bytes:
    buf = bytearray(data)
    for kind, where, arg in ops:
        at = int(where * len(buf)) if buf else 0
        if kind == "flip" and buf:
            buf[at] ^= arg
        elif kind == "int32" and len(buf) >= 4:
            at = min(at, len(buf) - 4) & ~3  # the format is int32-aligned
            buf[at : at + 4] = struct.pack("<i", arg)
        elif kind == "truncate":
            del buf[at:]
        elif kind == "insert":
            buf[at:at] = arg
    return bytes(buf)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(DAT)), ops=st.lists(_mutation, min_size=1, max_size=4))
def test_mutated_dat_parses_or_raises_model_format_error(name, ops):
    data = mutate(DAT[name], ops)
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        layers = parse_dat(data, f"{name}.dat")
    except mc.ModelFormatError as e:
        assert_one_line(e)
        assert str(e).startswith(f"{name}.dat")
    else:
        assert isinstance(layers, list) and layers
    finally:
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < 1.0, f"parse took {elapsed:.2f} s (hang guard)"
    assert peak < 20 * len(data) + 1_000_000, f"peak {peak:,} B for a {len(data):,} B file"


def test_load_models_with_truncated_onet_names_the_file(tmp_path):
    for name in ("PNet", "RNet", "ONet"):
        shutil.copy(MODELS / f"{name}.dat", tmp_path / f"{name}.dat")
    onet = tmp_path / "ONet.dat"
    onet.write_bytes(onet.read_bytes()[: len(onet.read_bytes()) // 2])
    with pytest.raises(mc.ModelFormatError) as e:
        mc.load_models(tmp_path)
    assert "ONet.dat" in str(e.value)
    assert_one_line(e.value)
    with pytest.raises(mc.ModelFormatError, match="ONet.dat"):
        mc.detect(photo(), models=str(tmp_path))


# ---- detect parameters -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw,msg",
    [
        (dict(min_face_size=0), r"min_face_size must be an integer >= 1"),
        (dict(min_face_size=-5), r"min_face_size must be an integer >= 1"),
        (dict(min_face_size=2.5), r"min_face_size must be an integer >= 1"),
        (dict(t1=-0.1), r"t1 must be a number in \[0, 1\]"),
        (dict(t2=1.1), r"t2 must be a number in \[0, 1\]"),
        (dict(t3=math.nan), r"t3 must be a number in \[0, 1\]"),
        (dict(t1=math.nan), r"t1 must be a number in \[0, 1\]"),
        (dict(pyramid_factor=0), r"pyramid_factor must be a number in \(0, 1\)"),
        (dict(pyramid_factor=1), r"pyramid_factor must be a number in \(0, 1\)"),
        (dict(pyramid_factor=1.5), r"pyramid_factor must be a number in \(0, 1\)"),
        (dict(pyramid_factor=math.nan), r"pyramid_factor must be a number in \(0, 1\)"),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else None,
)
def test_bad_parameters_name_the_allowed_range(kw, msg):
    with pytest.raises(ValueError, match=msg) as e:
        mc.detect(photo(80, 80), **kw)
    assert_one_line(e.value)


# ---- images.py fixes: formats Pillow cannot probe, and Pillow's global limit ------------------
def _hdr_declaring(w, h):
    return b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y %d +X %d\n" % (h, w) + b"\x02\x02\x01\x90" * 8


def _pfm_declaring(w, h):
    return b"PF\n%d %d\n-1\n" % (w, h) + b"\x00" * 48


@pytest.mark.parametrize("make", [_hdr_declaring, _pfm_declaring], ids=["radiance-hdr", "pfm"])
def test_opencv_only_formats_are_size_checked_before_decoding(make, monkeypatch):
    def no_decode(*a, **k):
        raise AssertionError("cv2.imdecode called on a bomb")

    monkeypatch.setattr(cv2, "imdecode", no_decode)
    with pytest.raises(mc.ImageError, match="declares 30000x20000.*refused before decoding"):
        mc.decode_image(make(30_000, 20_000), max_pixels=1_000_000)


@pytest.mark.parametrize("ext", [".hdr", ".pfm"])
def test_opencv_only_formats_still_decode(ext):
    data = cv_encode(photo(30, 40).astype(np.float32) / 255, ext)
    assert mc.images.declared_size(data) == (40, 30)
    assert_valid_image(mc.decode_image(data).image, (30, 40, 3))


def test_decoding_does_not_disable_pillows_own_bomb_guard():
    before = Image.MAX_IMAGE_PIXELS
    mc.decode_image(pil_encode(Image.fromarray(photo()[:, :, ::-1]), "BMP"))
    mc.decode_image(pil_encode(_frames()[0], "GIF"))
    assert Image.MAX_IMAGE_PIXELS == before
