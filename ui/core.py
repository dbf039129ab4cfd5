"""The one place the app touches `mtcnn_core`, so a missing piece of the core degrades to a message.

While the core is being written, `detect` etc. may be absent; `has()` tells pages what is usable.
"""
from __future__ import annotations

import io

import numpy as np

try:
    import mtcnn_core as mc
except Exception:  # pragma: no cover - the core failing to import must not crash the app
    mc = None
from mtcnn_core.errors import ImageError, MTCNNInputError, ModelFormatError, TraceFormatError
from mtcnn_core.trace import (FATE_NAMES, KEPT, BELOW_THRESHOLD, SUPPRESSED, BoxSet, Filtered,
                              Trace, detections_to_csv, load_any)

DEFAULT_MAX_PIXELS = 40_000_000

__all__ = ["mc", "has", "MTCNNInputError", "ImageError", "ModelFormatError", "TraceFormatError",
           "Trace", "BoxSet", "Filtered", "FATE_NAMES", "KEPT", "BELOW_THRESHOLD", "SUPPRESSED",
           "load_any", "detections_to_csv", "decode_image", "max_pixels"]


def has(name: str) -> bool:
    """True when the core exports `name` (e.g. 'detect', 'crop_input')."""
    return mc is not None and hasattr(mc, name)


def max_pixels() -> int:
    """The core's pixel limit for an image (guards against decompression bombs)."""
    return int(getattr(mc, "DEFAULT_MAX_PIXELS", DEFAULT_MAX_PIXELS))


def decode_image(data: bytes) -> tuple[np.ndarray, list]:
    """(BGR uint8 image, notes) from file bytes via the core; a PIL stand-in until the core lands."""
    if has("decode_image"):
        dec = mc.decode_image(data, max_pixels=max_pixels())
        return dec.image, list(getattr(dec, "notes", []))
    return _decode_with_pil(data)


def _decode_with_pil(data: bytes) -> tuple[np.ndarray, list]:
    """Fallback decoder (first frame, RGB -> BGR) raising ImageError like the core does."""
    from PIL import Image
    try:
        im = Image.open(io.BytesIO(data))
        if im.width * im.height > max_pixels():
            raise ImageError(f"image has {im.width}x{im.height} pixels, more than the "
                             f"{max_pixels():,} allowed")
        im.load()
    except ImageError:
        raise
    except Exception as e:
        raise ImageError(f"cannot decode the file as an image ({type(e).__name__}: {e})") from None
    rgb = np.asarray(im.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1]), []


def compare(reference, candidate, tol_px=0.01, tol_score=1e-4):
    """mc.compare via its submodule: importing `mtcnn_core.compare` rebinds the package attribute
    `mc.compare` to the module after the first call (core issue), so call the function directly."""
    from mtcnn_core.compare import compare as compare_traces
    return compare_traces(reference, candidate, tol_px=tol_px, tol_score=tol_score)
