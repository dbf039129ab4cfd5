"""The image pyramid's levels (semantics 2.3-2.5): the scales PNet runs at and each level's size.

Its own module because both the detector (cascade) and the cost check made before a run (cost)
need it, and the cascade calls the cost check.
"""

from __future__ import annotations

import math


def pyramid(height: int, width: int, min_face_size: int, factor: float):
    """[(scale, h, w)] of every level (semantics 2.3-2.5), or None where the C++ would throw."""
    min_dim = min(height, width)
    n = math.floor(math.log(min_face_size / min_dim) / math.log(factor)) + 1
    if n < 0:
        return None
    levels = []
    for i in range(n):
        s = (12.0 / min_face_size) * math.pow(factor, i)
        levels.append((s, math.ceil(height * s), math.ceil(width * s)))
    return levels
