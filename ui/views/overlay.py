"""Cached base figures: the current image as a plotly background in original-pixel coordinates."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ..figures import plots


@st.cache_data(max_entries=8, ttl=3600, show_spinner=False)
def display_uri(image_sha: str, _rgb: np.ndarray) -> tuple[str, float]:
    """JPEG data URI of the image (shrunk for display) and its pixel size, once per image."""
    return plots.image_data_uri(_rgb)


def image_figure(run, title=None, px_height=520):
    """A fresh figure of the run's image, ready for box overlays."""
    uri, pixel = display_uri(run.sha, run.rgb)
    h, w = run.rgb.shape[:2]
    return plots.image_figure(uri, pixel, w, h, title=title, px_height=px_height)


def fit_height(run, width_px: int = 900, low: int = 360, high: int = 760) -> int:
    """Figure height that shows the image at about width_px wide (clamped to [low, high])."""
    h, w = run.rgb.shape[:2]
    return int(min(max(width_px * h / max(w, 1), low), high))
