"""Cached exact network inputs (from the core) and their display pictures."""

from __future__ import annotations

import numpy as np
import streamlit as st

from .. import core
from ..figures import draw, imaging


@st.cache_data(max_entries=32, ttl=3600, show_spinner=False)
def pnet_level_input(image_sha: str, level_index: int, scale: float, _bgr: np.ndarray, _level):
    """(1, 3, h, w) float32: PNet's exact input at one pyramid level (mc.pnet_input)."""
    return core.mc.pnet_input(_bgr, _level)


@st.cache_data(max_entries=64, ttl=3600, show_spinner=False)
def crop(image_sha: str, box: tuple, size: int, _bgr: np.ndarray):
    """(1, 3, size, size) float32: RNet (24) / ONet (48) input for one rectified box."""
    return core.mc.crop_input(_bgr, np.asarray(box, np.float32), size)


@st.cache_data(max_entries=32, ttl=3600, show_spinner=False)
def _level_png(image_sha: str, level_index: int, scale: float, _bgr: np.ndarray, _level) -> bytes:
    x = pnet_level_input(image_sha, level_index, scale, _bgr, _level)
    return imaging.display_png(draw.crop_preview(x, scale=1))


def level_picture(image_sha: str, level, bgr: np.ndarray) -> bytes | None:
    """The resized level as display PNG bytes (PNet's input un-normalised)."""
    return _level_png(image_sha, level.index, float(level.scale), bgr, level)
