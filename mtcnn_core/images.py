"""Image decoding as OpenFace does it, OpenCV's float32 bilinear resize in numpy, and normalisation.

`cv2` is used only to decode (like `cv::imread(IMREAD_COLOR)`: EXIF rotation, grey -> 3 channels,
16 -> 8 bit, alpha dropped). Resizing is reimplemented (semantics 6.4) because pip's cv2.resize
uses IPP, which changes the last bits and is switched per thread.
"""

from __future__ import annotations

import io
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._decode_env import DEFAULT_MAX_PIXELS, opencv_limit
from .errors import ImageError

#: Formats Pillow may decode when OpenCV cannot: their decoders allocate exactly the size Pillow
#: reports, so the per-call size check below bounds them. Anything else (ICO, whose frames are
#: separate images of any size, EPS, ...) is refused.
PIL_FALLBACK_FORMATS = {"GIF", "TGA", "PCX", "SGI"}
OPENCV_FORMATS = {"JPEG", "PNG", "BMP", "WEBP", "TIFF", "PPM", "JPEG2000", "SUN", "AVIF"}
#: Bytes of header searched for a Radiance HDR resolution line.
HDR_HEADER_BYTES = 1 << 16


#: File signatures `cv::imread` of OpenCV 4.6 (OpenFace 2.2's build) decodes: BMP, JPEG, JPEG
#: 2000 (codestream and JP2), PNG, WebP, PBM/PGM/PPM/PAM, PFM, Sun raster, TIFF, OpenEXR and
#: Radiance HDR. GIF (OpenCV >= 4.11), AVIF (>= 4.9, optional), JPEG XL (>= 4.11) and the
#: Pillow-only formats are not among them: OpenFace gets an empty image for those files.
OPENCV46_SIGNATURES = (
    b"BM",
    b"\xff\xd8\xff",
    b"\xff\x4f\xff\x51",
    b"\x00\x00\x00\x0cjP  \r\n\x87\n",
    b"\x89PNG\r\n\x1a\n",
    b"P1",
    b"P2",
    b"P3",
    b"P4",
    b"P5",
    b"P6",
    b"P7",
    b"PF",
    b"Pf",
    b"\x59\xa6\x6a\x95",
    b"II*\x00",
    b"MM\x00*",
    b"\x76\x2f\x31\x01",
    b"#?RADIANCE",
    b"#?RGBE",
)


def container_name(data: bytes) -> str:
    """A short name of the file's format from its first bytes (for messages)."""
    if data[:4] == b"GIF8":
        return "GIF"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        return {b"avif": "AVIF", b"avis": "AVIF", b"heic": "HEIC", b"mif1": "HEIF"}.get(brand, "ISO-BMFF")
    if data[:2] == b"\xff\x0a" or data[:12] == b"\x00\x00\x00\x0cJXL \r\n\x87\n":
        return "JPEG XL"
    im = _pil_open(data)
    return im.format if im is not None and im.format else "this format"


def opencv46_reads(data: bytes) -> bool:
    """Whether OpenFace's OpenCV 4.6 `cv::imread` recognises the file's format (by signature)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return True
    return any(data.startswith(sig) for sig in OPENCV46_SIGNATURES)


def openface_unreadable_note(data: bytes) -> str:
    return (
        f"OpenFace would see no image: its OpenCV 4.6 cv::imread cannot read {container_name(data)} "
        "files and returns an empty image, so the C++ detects nothing. The faces shown here "
        "come from this app's newer decoder; convert the file (e.g. to PNG) to compare with "
        "the C++."
    )


def _truncated_jpeg(data: bytes):
    """A JPEG cut short, decoded as cv::imread decodes it: libjpeg warns 'Premature end of JPEG
    file', inserts an end-of-image marker and fills the missing blocks. (cv2.imdecode refuses
    such a buffer; the same buffer with the marker appended decodes to imread's exact pixels.)"""
    import cv2

    if not data.startswith(b"\xff\xd8\xff") or data.endswith(b"\xff\xd9"):
        return None
    try:
        return cv2.imdecode(np.frombuffer(data + b"\xff\xd9", np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        return None


@dataclass
class DecodedImage:
    """image: (H, W, 3) uint8 BGR; notes: what the decoder did that a user may not expect."""

    image: np.ndarray
    notes: list = field(default_factory=list)


def _png_size(data: bytes):
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24 and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    return None


def _jpeg_size(data: bytes):
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        while i + 9 < len(data) and data[i + 1] == 0xFF:  # fill bytes before a marker
            i += 1
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        seg = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        i += 2 + seg
    return None


_HDR_RES = re.compile(rb"([-+])([XY]) +(\d+) +([-+])([XY]) +(\d+)[ \t]*\r?\n")
_PFM_HEAD = re.compile(rb"P[Ff]\s+(\d+)\s+(\d+)\s")


def _hdr_size(data: bytes):
    """Radiance .hdr (OpenCV decodes it, Pillow cannot): the resolution line (e.g. `-Y 300 +X 400`)
    is the first line after the header's blank line, however many comment lines come before."""
    if not data.startswith((b"#?RADIANCE", b"#?RGBE")):
        return None
    end = data.find(b"\n\n", 0, HDR_HEADER_BYTES)
    m = _HDR_RES.match(data, end + 2) if end >= 0 else None
    if not m or m.group(2) == m.group(5):
        return None
    first, second = int(m.group(3)), int(m.group(6))
    return (second, first) if m.group(2) == b"Y" else (first, second)


def _pfm_size(data: bytes):
    """Portable float map (OpenCV decodes it, Pillow cannot): `PF\\n<width> <height>\\n`."""
    m = _PFM_HEAD.match(data[:256])
    return (int(m.group(1)), int(m.group(2))) if m else None


def _pil_open(data: bytes):
    """Pillow's image object for `data`, header only (lazy), or None.

    Opened through the format plugins directly, as Image.open does but without its global bomb
    check, so no global state is touched (Image.MAX_IMAGE_PIXELS is never changed) and the caller
    checks the size against its own limit before anything is decoded."""
    try:
        from PIL import Image
    except ImportError:
        return None
    Image.init()
    prefix = data[:16]
    for fmt in Image.ID:
        factory, accept = Image.OPEN[fmt]
        try:
            if accept is not None and not accept(prefix):
                continue
            return factory(io.BytesIO(data))
        except Exception:  # not this format (or a broken header): try the next plugin
            continue
    return None


def _pil_size(data: bytes):
    """Other formats: (width, height) from Pillow's header parsing, no pixel decode."""
    im = _pil_open(data)
    if im is None:
        return None
    with im:
        return im.size


def declared_size(data: bytes):
    """(width, height) from the file header, without decoding; None if unknown."""
    for probe in (_png_size, _jpeg_size, _hdr_size, _pfm_size, _pil_size):
        size = probe(data)
        if size:
            return size
    return None


def _has_more_frames(data: bytes) -> bool:
    """Animated GIF/WebP/PNG, or a TIFF with a second page: checked by reading at most two
    frame headers (never counting them all, which is quadratic for a TIFF with many IFDs)."""
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff_second_ifd(data)
    if not (data[:6] in (b"GIF87a", b"GIF89a") or data[:4] == b"RIFF" or data[:4] == b"\x89PNG"):
        return False
    im = _pil_open(data)
    if im is None:
        return False
    with im:
        try:
            return bool(getattr(im, "is_animated", False))
        except Exception:
            return False


def _tiff_second_ifd(data: bytes) -> bool:
    """Whether a classic TIFF's first IFD links to a second one."""
    end = "<" if data[:2] == b"II" else ">"
    try:
        (first,) = struct.unpack(end + "I", data[4:8])
        (n,) = struct.unpack(end + "H", data[first : first + 2])
        (nxt,) = struct.unpack(end + "I", data[first + 2 + 12 * n : first + 6 + 12 * n])
    except struct.error:
        return False
    return nxt != 0


def decode_preview(data: bytes, longest: int, name: str = "image"):
    """(image, (width, height) of the full image) for a thumbnail whose longest side is `longest`:
    decoded at 1/2, 1/4 or 1/8 scale where the decoder can (JPEG), else in full. Not for detection."""
    import cv2

    size = declared_size(data)
    if size and 0 < size[0] * size[1] <= DEFAULT_MAX_PIXELS and opencv_limit() is not None:
        factor = max(f for f in (1, 2, 4, 8) if max(size) // f >= longest or f == 1)
        flag = {
            1: cv2.IMREAD_COLOR,
            2: cv2.IMREAD_REDUCED_COLOR_2,
            4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8,
        }[factor]
        try:
            img = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
        except cv2.error:
            img = None
        if img is not None:
            if (img.shape[1] > img.shape[0]) != (size[0] > size[1]) and size[0] != size[1]:
                size = (size[1], size[0])  # turned by its EXIF orientation, as imread does
            return img, size
    img = decode_image(data, name=name).image
    return img, (img.shape[1], img.shape[0])


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "image") -> DecodedImage:
    """Decode bytes like `cv::imread(path, IMREAD_COLOR)`; refuse empty, undecodable or huge images.

    The header check gives an early, friendly message; the guard is OpenCV's own pixel limit
    (set before cv2 loads, see _decode_env), applied by every OpenCV decoder before it allocates,
    and a per-call size check before Pillow decodes one of PIL_FALLBACK_FORMATS."""
    import cv2

    if not data:
        raise ImageError(f"{name}: the file is empty (0 bytes)")
    size = declared_size(data)
    if size and size[0] * size[1] > max_pixels:
        raise ImageError(
            f"{name}: declares {size[0]}x{size[1]} = {size[0] * size[1]:,} pixels, over "
            f"the limit of {max_pixels:,}; refused before decoding"
        )
    if size and (size[0] == 0 or size[1] == 0):
        raise ImageError(f"{name}: declares an empty image ({size[0]}x{size[1]})")
    limit = opencv_limit()
    if size is None and limit is None:
        raise ImageError(
            f"{name}: its size cannot be read from the header, and OpenCV's pixel limit "
            "is not in force (cv2 was imported before mtcnn_core); refused"
        )
    buf = np.frombuffer(data, np.uint8)
    try:
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    except cv2.error as e:
        if "MAX_IMAGE_PIXELS" in str(e) or "validateInputImageSize" in str(e):
            raise ImageError(
                f"{name}: more pixels than the decoder's limit of {limit or max_pixels:,}; refused before decoding"
            ) from None
        raise ImageError(f"{name}: OpenCV cannot decode it ({_first_line(e)})") from None
    notes = []
    if img is None:
        img = _truncated_jpeg(data)
        if img is not None:
            notes.append(
                "truncated JPEG ('Premature end of JPEG file'): decoded as cv::imread does, "
                "the rows present and libjpeg's fill below them; OpenFace sees these pixels"
            )
    if img is None:
        img = _decode_with_pil(data, name, notes, max_pixels)
    if img is not None and not opencv46_reads(data):
        notes.insert(0, openface_unreadable_note(data))
    if img is None:
        raise ImageError(f"{name}: not a decodable image (corrupt, truncated or unsupported format)")
    if img.shape[0] * img.shape[1] > max_pixels:
        raise ImageError(f"{name}: {img.shape[1]}x{img.shape[0]} pixels is over the limit of {max_pixels:,}")
    if _has_more_frames(data):
        notes.append("animated image: only the first frame is used")
    return DecodedImage(np.ascontiguousarray(img), notes)


def _first_line(e) -> str:
    lines = [x.strip() for x in str(e).splitlines() if x.strip()]
    return lines[-1][:200] if lines else type(e).__name__


def _decode_with_pil(data: bytes, name: str, notes: list, max_pixels: int):
    """Fallback for formats the pip OpenCV cannot read (PIL_FALLBACK_FORMATS only): first frame,
    RGB -> BGR, after checking Pillow's size against `max_pixels` (a local check; Pillow's global
    limit is left as it is)."""
    im = _pil_open(data)
    if im is None:
        return None
    with im:
        if im.format not in PIL_FALLBACK_FORMATS:
            if im.format in OPENCV_FORMATS:
                return None  # OpenCV's own format, which it could not decode: corrupt
            raise ImageError(
                f"{name}: not a decodable image here ({im.format} is not accepted: "
                "its decoded size cannot be bounded before decoding)"
            )
        w, h = im.size
        if w * h > max_pixels:
            raise ImageError(
                f"{name}: declares {w}x{h} = {w * h:,} pixels, over the limit of "
                f"{max_pixels:,}; refused before decoding"
            )
        try:
            im.seek(0)
            rgb = np.asarray(im.convert("RGB"))
        except Exception:
            return None
    if rgb.shape[:2] != (h, w):
        return None
    notes.append("decoded with Pillow (OpenCV could not read this format)")
    return np.ascontiguousarray(rgb[:, :, ::-1])


def load_image(source, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """(H, W, 3) uint8 BGR from a path or bytes, decoded as OpenFace's FaceLandmarkImg does."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_image(bytes(source), max_pixels).image
    path = Path(source)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ImageError(f"{path}: cannot read ({e.strerror or e})") from None
    return decode_image(data, max_pixels, name=str(path)).image


# ---- OpenCV INTER_LINEAR resize on float32 (semantics 6.4) ----------------------------------
def _linear_taps(dst: int, src: int):
    """Per destination index: left/top source index, its weight pair, and copy-edge mask."""
    scale = 1.0 / (dst / src)
    f = ((np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    i0 = np.floor(f)
    frac = (f - i0.astype(np.float32)).astype(np.float32)
    i0 = i0.astype(np.int64)
    return i0, frac, scale


def _row_taps(dst_h: int, h: int):
    """Top/bottom source rows and weights of the vertical pass; the weight is not clamped."""
    sy, fy, _ = _linear_taps(dst_h, h)
    return np.clip(sy, 0, h - 1), np.clip(sy + 1, 0, h - 1), fy


def _column_taps(dst_w: int, w: int):
    """Left source column, its right neighbour's weight and the copy-edge mask of the horizontal
    pass: a tap left of the image has weight 0; at or past the last column, that column is copied."""
    sx, fx, _ = _linear_taps(dst_w, w)
    neg = sx < 0
    sx[neg], fx[neg] = 0, 0
    return sx, fx, sx >= w - 1


def _is_exact_half(w: int, h: int, width: int, height: int) -> bool:
    """cv::resize's INTER_LINEAR becomes a 2x2 average when both scales are exactly 2."""
    eps = np.finfo(np.float64).eps
    return abs(1.0 / (width / w) - 2) < eps and abs(1.0 / (height / h) - 2) < eps


def _bilinear_planes(image: np.ndarray, width: int, height: int, reverse: bool) -> np.ndarray:
    """The bilinear passes of cv::resize on an (H, W, C) image (uint8 or float32), computed
    planar -> (C, height, width) float32, channels reversed if asked (BGR -> RGB): horizontal
    first, then vertical, over only the source rows the vertical pass reads (de-interleaved once,
    taps gathered before the float conversion)."""
    h, w = image.shape[:2]
    one = np.float32(1)
    r0, r1, fy = _row_taps(height, h)
    rows = np.unique(np.concatenate([r0, r1]))
    src = image[rows].transpose(2, 0, 1)
    src = np.ascontiguousarray(src[::-1] if reverse else src)
    sx, fx, edge = _column_taps(width, w)
    tmp = np.take(src, np.minimum(sx, w - 1), axis=2).astype(np.float32)
    tmp *= one - fx
    right = np.take(src, np.minimum(sx + 1, w - 1), axis=2).astype(np.float32)
    right *= fx
    tmp += right
    if edge.any():
        tmp[:, :, edge] = src[:, :, w - 1 : w]
    # vertical
    out = np.take(tmp, np.searchsorted(rows, r0), axis=1)
    out *= (one - fy)[:, None]
    lower = np.take(tmp, np.searchsorted(rows, r1), axis=1)
    lower *= fy[:, None]
    out += lower
    return out


def cv_resize(src: np.ndarray, width: int, height: int) -> np.ndarray:
    """cv::resize(src, Size(width, height)) with INTER_LINEAR on a (H, W, C) float32 image.

    A uint8 source is treated as its exact float32 conversion (only the rows read are converted).
    """
    h, w = src.shape[:2]
    if (h, w) == (height, width):
        return src.astype(np.float32)
    if _is_exact_half(w, h, width, height):
        src = src.astype(np.float32)
        a, b = src[0::2, 0::2][:height, :width], src[0::2, 1::2][:height, :width]
        c, d = src[1::2, 0::2][:height, :width], src[1::2, 1::2][:height, :width]
        return ((a + b) + c + d) * np.float32(0.25)
    return np.ascontiguousarray(_bilinear_planes(src, width, height, reverse=False).transpose(1, 2, 0))


def resize_planes(src: np.ndarray, width: int, height: int, compiled: bool = True) -> np.ndarray:
    """planar_input(cv_resize(src, width, height)) for a (H, W, 3) uint8 BGR image, computed
    planar throughout (the networks' layout): (3, height, width) float32 R, G, B planes. By the
    compiled kernel when it is available (and compiled), else by numpy (the same bits)."""
    h, w = src.shape[:2]
    if (h, w) == (height, width) or _is_exact_half(w, h, width, height) or src.dtype != np.uint8:
        return planar_input(cv_resize(src, width, height))
    kernels = _compiled_kernels() if compiled else None
    if kernels is not None:
        return _compiled_planes(kernels, np.ascontiguousarray(src), width, height)
    out = _bilinear_planes(src, width, height, reverse=True)
    out -= np.float32(127.5)  # (x - 127.5) * 2^-7, as planar_input
    out *= np.float32(0.0078125)
    return out


def _compiled_kernels():
    """kernels.compiled, or None without numba (imported on first use: numba loads slowly)."""
    from .kernels import compiled

    return compiled


def _compiled_planes(kernels, src: np.ndarray, width: int, height: int) -> np.ndarray:
    """resize_planes by kernels.resize_planes, with _bilinear_planes' taps and weights."""
    h, w = src.shape[:2]
    one = np.float32(1)
    r0, r1, fy = _row_taps(height, h)
    sx, fx, edge = _column_taps(width, w)
    sx = np.minimum(sx, w - 1)
    out = np.empty((3, height, width), np.float32)
    return kernels.resize_planes(src, sx, one - fx, fx, edge, r0, r1, one - fy, fy, out)


def planar_input(img: np.ndarray) -> np.ndarray:
    """(..., h, w, 3) float32 BGR -> (3, ..., h, w) [R, G, B] planes of (x - 127.5) * 2^-7
    (semantics 2.6-2.7), channel first: the networks' layout."""
    out = np.empty((3,) + img.shape[:-1], np.float32)
    for c in range(3):  # R, G, B from B, G, R
        np.subtract(img[..., 2 - c], np.float32(127.5), out=out[c])
        out[c] *= np.float32(0.0078125)
    return out
