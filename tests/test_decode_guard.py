"""One decode guard that cannot be fooled: every hostile image is refused in bounded memory,
even when the header parsers are fooled, because OpenCV's own pixel limit (set before cv2 loads)
applies where the image is allocated; Pillow's global limit is never touched."""

import os
import subprocess
import sys
import threading

import pytest

import mtcnn_core as mc
from tests.hostile import DECODE_BODY, IMAGE_BOMBS, ROOT, jpeg_fill_byte, run_bounded, tiff_many_ifds

PEAK_MB = 700  # an idle mtcnn_core + cv2 process is ~120 MB resident


@pytest.fixture(scope="module")
def bomb_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bombs")
    out = {}
    for name, make in IMAGE_BOMBS.items():
        out[name] = d / name
        out[name].write_bytes(make())
        assert out[name].stat().st_size < 64_000
    return out


@pytest.mark.parametrize("mode", ["header", "fooled"])
@pytest.mark.parametrize("name", sorted(IMAGE_BOMBS))
def test_bomb_is_refused_in_bounded_memory(bomb_files, name, mode):
    res = run_bounded(DECODE_BODY, args=(bomb_files[name], mode))
    assert res["rc"] == 0, res["stderr"][-2000:]
    assert res["ok"] is False and "\n" not in res["error"], res
    assert res["peak_mb"] < PEAK_MB, res


def test_the_bombs_are_real_without_the_limit(bomb_files):
    """Control: with OpenCV's limit raised and the parsers fooled, the same files exhaust the
    child's address space (so the test above does test the guard)."""
    killed = 0
    for name in ("jpeg-fill-byte", "hdr-hidden-size", "tiff-float-rgb"):
        p = subprocess.run(
            [sys.executable, "-c", _unguarded(bomb_files[name])],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env={**os.environ, "OPENCV_IO_MAX_IMAGE_PIXELS": str(1 << 40)},
            preexec_fn=_limit,
        )
        killed += (
            p.returncode != 0
            or "MemoryError" in p.stdout
            or "Insufficient memory" in p.stdout
            or "Failed to allocate" in p.stdout
        )
    assert killed == 3


def _limit():
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))


def _unguarded(path) -> str:
    return (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "import mtcnn_core.images as images\n"
        "images.declared_size = lambda d: None\n"
        "import mtcnn_core as mc\n"
        f"try:\n    mc.decode_image(open({str(path)!r}, 'rb').read(), max_pixels=1 << 40)\n"
        "except Exception as e:\n    print(type(e).__name__, str(e)[:300])\n"
    )


def test_opencv_limit_is_set_before_cv2_loads():
    code = (
        "import os, sys; sys.path.insert(0, %r); import mtcnn_core, cv2; "
        "print(os.environ['OPENCV_IO_MAX_IMAGE_PIXELS'], mtcnn_core._decode_env.opencv_limit())" % str(ROOT)
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "OPENCV_IO_MAX_IMAGE_PIXELS"},
    )
    assert out.stdout.split() == [str(mc.DEFAULT_MAX_PIXELS)] * 2


def test_cv2_imported_first_refuses_sizes_it_cannot_read(bomb_files):
    code = (
        "import sys, json; sys.path.insert(0, %r); import cv2; import mtcnn_core as mc\n"
        "import mtcnn_core.images as images; images.declared_size = lambda d: None\n"
        "try:\n    mc.decode_image(open(%r, 'rb').read()); print('decoded')\n"
        "except mc.ImageError as e:\n    print(e)\n"
    ) % (str(ROOT), str(bomb_files["tiff-float-rgb"]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, preexec_fn=_limit)
    assert "pixel limit is not in force" in out.stdout, out


def test_tiff_with_65000_pages_is_decoded_without_counting_them(tmp_path):
    p = tmp_path / "pages.tif"
    p.write_bytes(tiff_many_ifds())
    res = run_bounded(DECODE_BODY, args=(p, "header"), timeout=20)  # was 39 s of CPU
    assert res["ok"] is True and res["shape"] == [1, 1, 3], res


def test_fill_byte_before_sof_is_read_by_the_header_check():
    assert mc.images.declared_size(jpeg_fill_byte(30000, 20000)) == (30000, 20000)


def test_pillow_global_limit_is_never_changed_even_under_concurrency(bomb_files):
    from PIL import Image

    sentinel = 12_345_678
    saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, sentinel
    seen, stop = set(), threading.Event()

    def watch():
        while not stop.is_set():
            seen.add(Image.MAX_IMAGE_PIXELS)

    def decode_all():
        for p in bomb_files.values():
            try:
                mc.decode_image(p.read_bytes())
            except mc.ImageError:
                pass
        from tests.test_bad_input import _frames, pil_encode

        mc.decode_image(pil_encode(_frames()[0], "GIF"))

    try:
        w = threading.Thread(target=watch)
        w.start()
        workers = [threading.Thread(target=decode_all) for _ in range(4)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        stop.set()
        w.join()
    finally:
        Image.MAX_IMAGE_PIXELS = saved
    assert seen == {sentinel}


PREVIEW_BODY = DECODE_BODY.replace("dec = mc.decode_image(data)", "dec = images.decode_preview(data, 220)[0]")
PREVIEW_BODY = PREVIEW_BODY.replace('"shape": list(dec.image.shape)', '"shape": list(dec.shape)')


@pytest.mark.parametrize("name", sorted(IMAGE_BOMBS))
def test_thumbnail_decoding_is_guarded_like_detection(bomb_files, name):
    """The batch report's reduced-size decoding refuses the same bombs in bounded memory."""
    res = run_bounded(PREVIEW_BODY, args=(bomb_files[name], "header"))
    assert res["rc"] == 0, res["stderr"][-2000:]
    assert res["ok"] is False and "\n" not in res["error"], res
    assert res["peak_mb"] < PEAK_MB, res


def _exif_jpeg(img, orientation: int) -> bytes:
    """A JPEG with an EXIF APP1 segment holding only the Orientation tag."""
    import struct

    import cv2

    data = cv2.imencode(".jpg", img)[1].tobytes()
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    app1 = b"Exif\x00\x00" + tiff
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:]


@pytest.mark.parametrize("orientation", [1, 6])
def test_thumbnail_decoding_reduces_jpegs_and_keeps_the_full_size(orientation):
    """A 1600x1200 JPEG is decoded at 1/4 scale (still >= 220 px) and reports its full size,
    turned like imread turns it for an EXIF orientation of 6 (90 degrees)."""
    import cv2
    import numpy as np

    from mtcnn_core.images import decode_preview

    img = np.zeros((1200, 1600, 3), np.uint8)
    img[:, :800] = 200  # left half bright
    data = _exif_jpeg(img, orientation)
    full = mc.decode_image(data).image
    small, (w, h) = decode_preview(data, 220)
    assert (w, h) == (full.shape[1], full.shape[0])
    assert (w, h) == ((1600, 1200) if orientation == 1 else (1200, 1600))
    assert max(small.shape[:2]) == max(w, h) // 4
    assert small.shape[1] * h == small.shape[0] * w  # same orientation as the full decode
    ref = cv2.resize(full, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_AREA)
    assert np.abs(ref.astype(int) - small.astype(int)).mean() < 8
