"""Display encoding: images sent to the browser at most as wide as Streamlit shows them, as PNG
bytes, so st.image never re-encodes (it would on every rerun for anything wider)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

MAX_DISPLAY_WIDTH = 1400  # Streamlit re-encodes st.image inputs wider than 1460 px on every run


def display_png(img, max_width: int = MAX_DISPLAY_WIDTH, nearest: bool = False) -> bytes:
    """PNG bytes of a PIL image or uint8 array, shrunk to max_width (nearest keeps pixel grids crisp)."""
    im = img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img, dtype=np.uint8))
    if im.width > max_width:
        h = max(1, round(im.height * max_width / im.width))
        im = im.resize((max_width, h), Image.NEAREST if nearest else Image.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def shrink(rgb: np.ndarray, max_width: int = MAX_DISPLAY_WIDTH) -> tuple[np.ndarray, float]:
    """(the image at most max_width wide (area-averaged), factor applied to coordinates)."""
    import cv2

    h, w = rgb.shape[:2]
    if w <= max_width:
        return rgb, 1.0
    f = max_width / w
    out = cv2.resize(np.ascontiguousarray(rgb), (max_width, max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return out, f


def display_jpeg(img, quality: int = 92) -> bytes:
    """JPEG bytes of a PIL image or uint8 array for display: ~10x faster to encode than PNG at
    1080p; no chroma subsampling, so thin coloured box outlines keep their colour."""
    im = img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img, dtype=np.uint8))
    buf = io.BytesIO()
    im.convert("RGB").save(buf, format="JPEG", quality=quality, subsampling=0)
    return buf.getvalue()
