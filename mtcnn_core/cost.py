"""What a detection run will cost, known before it runs: the pyramid pixels PNet must process.

PNet's time and memory grow with the sum of the pyramid levels' areas (its first conv keeps 10
float32 maps per level pixel), so that sum is checked against a budget before any level is made.
The refusal names the parameter to change (min face size) and the smallest value that fits.
"""

from __future__ import annotations

import math

from .errors import MTCNNInputError

#: Pyramid pixels a run may push through PNet unless the caller allows more (a 50-Mpixel photo
#: at OpenFace's default min face 60 needs about 4 Mpixel; min face 12 on it needs about 100).
DEFAULT_BUDGET_PIXELS = 8_000_000


class CostError(MTCNNInputError):
    """A run would cost more than the budget; the message names the parameter to change."""


def pyramid_pixels(height: int, width: int, min_face_size: int, pyramid_factor: float) -> int:
    """Sum of h*w over the pyramid levels the detector would build (0 if none)."""
    from .scales import pyramid

    levels = pyramid(height, width, int(min_face_size), float(pyramid_factor)) or []
    return sum(h * w for _, h, w in levels)


def smallest_min_face(height, width, params: dict, budget: int) -> int:
    """The smallest min_face_size whose pyramid fits the budget (with the other parameters)."""
    pix = pyramid_pixels(height, width, params["min_face_size"], params["pyramid_factor"])
    mfs = max(int(params["min_face_size"]), math.ceil(params["min_face_size"] * math.sqrt(pix / budget)))
    while pyramid_pixels(height, width, mfs, params["pyramid_factor"]) > budget:
        mfs += 1
    return mfs


def check_budget(height: int, width: int, params: dict, budget: int = DEFAULT_BUDGET_PIXELS):
    """Raise CostError if a height x width image with `params` exceeds `budget` pyramid pixels."""
    pix = pyramid_pixels(height, width, params["min_face_size"], params["pyramid_factor"])
    if pix > budget:
        need = smallest_min_face(height, width, params, budget)
        raise CostError(
            f"a {width}x{height} image with min face size {params['min_face_size']} "
            f"sends {pix / 1e6:.1f} Mpixel through PNet, over the budget of "
            f"{budget / 1e6:.0f} Mpixel: raise the min face size to at least {need} "
            "(or allow the cost explicitly)"
        )
