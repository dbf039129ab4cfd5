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
