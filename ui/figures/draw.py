"""PIL drawing of boxes on images (pure functions: numpy/PIL in, PIL out), for display and download."""

from __future__ import annotations

import functools
import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FACE_COLOUR = (0, 200, 90)
LANDMARK_COLOUR = (255, 60, 200)


def line_width(width: int, height: int) -> int:
    """Box outline width that stays visible on large images and thin on small ones."""
    return max(1, round(max(width, height) / 400))


@functools.lru_cache(maxsize=64)
def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # old Pillow
        return ImageFont.load_default()


def label_size(box_w: float, lw: int, image_w: int = 0) -> int:
    """Score label font size for a box: about a fifth of its width (a label no wider than its face,
    so labels of neighbouring faces in a crowd do not run into each other), but at least 1/90 of
    the image width (readable once the image is shrunk to the page) and 11 px."""
    floor = max(11, image_w / 90)
    return int(min(max(box_w / 5.0, floor), max(floor, 6 * lw + 6)))


def score_label(s: float) -> str:
    """Three decimals, rounded down: 0.9999998 reads 0.999, never 1.000."""
    return f"{math.floor(float(s) * 1000) / 1000:.3f}"


def draw_boxes(rgb: np.ndarray, boxes, scores=None, colour=FACE_COLOUR, labels=True) -> Image.Image:
    """The image with each [x, y, w, h] box outlined and, if given, its score written above it
    in a font scaled to the box."""
    im = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
    d = ImageDraw.Draw(im)
    lw = line_width(im.width, im.height)
    for i, (x, y, w, h) in enumerate(np.asarray(boxes, dtype=float).reshape(-1, 4)):
        box_lw = max(1, min(lw, round(w / 30)))
        d.rectangle([x, y, x + w, y + h], outline=colour, width=box_lw)
        if labels and scores is not None:
            font = _font(label_size(w, lw, im.width))
            text = score_label(scores[i])
            tx, ty = x, max(0.0, y - font.size - 2 * box_lw)
            bb = d.textbbox((tx, ty), text, font=font)
            d.rectangle(bb, fill=colour)
            d.text((tx, ty), text, fill=(0, 0, 0), font=font)
    return im


def draw_landmarks(im: Image.Image, landmarks, colour=LANDMARK_COLOUR, face_sizes=None) -> Image.Image:
    """Dots for ONet's 5 points per face, rows (x1..x5, y1..y5) in image pixels (drawn in place);
    with face_sizes (box widths) each dot is scaled to its face (1/40 of it, 1.5 px at least)."""
    d = ImageDraw.Draw(im)
    r_max = max(2, line_width(im.width, im.height) + 1)
    rows = np.asarray(landmarks, dtype=float).reshape(-1, 10)
    sizes = np.full(len(rows), np.inf) if face_sizes is None else np.asarray(face_sizes, float)
    for row, size in zip(rows, sizes):
        r = min(r_max, max(1.5, size / 40))
        for x, y in zip(row[:5], row[5:]):
            d.ellipse([x - r, y - r, x + r, y + r], fill=colour, outline=(0, 0, 0))
    return im


def png_bytes(im: Image.Image) -> bytes:
    """PNG encoding of a PIL image (for st.download_button)."""
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def crop_preview(x: np.ndarray, scale: int = 4) -> Image.Image:
    """A (1, 3, s, s) net input (planes R, G, B, normalised (x-127.5)/128) as an enlarged picture."""
    a = np.asarray(x, dtype=np.float32)[0].transpose(1, 2, 0)
    rgb = np.clip(a / 0.0078125 + 127.5, 0, 255).astype(np.uint8)
    im = Image.fromarray(rgb)
    return im.resize((im.width * scale, im.height * scale), Image.NEAREST)
