"""The one place the app imports `mtcnn_core` from: names the pages use, in one spot."""

from __future__ import annotations

import numpy as np

import mtcnn_core as mc
from mtcnn_core.errors import ImageError, ModelFormatError, MTCNNInputError, TraceFormatError
from mtcnn_core.trace import (
    BELOW_THRESHOLD,
    CAPPED,
    FATE_NAMES,
    KEPT,
    SUPPRESSED,
    BoxSet,
    Filtered,
    Trace,
    detections_to_csv,
    load_any,
)

__all__ = [
    "mc",
    "MTCNNInputError",
    "ImageError",
    "ModelFormatError",
    "TraceFormatError",
    "Trace",
    "BoxSet",
    "Filtered",
    "FATE_NAMES",
    "KEPT",
    "BELOW_THRESHOLD",
    "SUPPRESSED",
    "CAPPED",
    "load_any",
    "detections_to_csv",
    "decode_image",
    "max_pixels",
]


def max_pixels() -> int:
    """The core's pixel limit for an image (guards against decompression bombs)."""
    return mc.DEFAULT_MAX_PIXELS


def decode_image(data: bytes) -> tuple[np.ndarray, list]:
    """(BGR uint8 image, decoder notes) from file bytes, decoded like cv::imread by the core."""
    dec = mc.decode_image(data, max_pixels=max_pixels())
    return dec.image, list(dec.notes)
