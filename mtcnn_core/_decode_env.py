"""Before cv2 loads: OpenCV's own decoded-size limit, which bounds every format it decodes.

OpenCV reads OPENCV_IO_MAX_IMAGE_PIXELS once, when the library loads, and refuses (cv2.error)
any image whose decoder reports more pixels, before allocating it. That is the guard that cannot
be fooled by a header our own parsers misread. An explicit value in the environment is respected.
If cv2 was imported before mtcnn_core, the limit may not be in force: `decode_image` then refuses
images whose size it cannot read from the header itself.
"""

import os
import sys

LIMIT_VAR = "OPENCV_IO_MAX_IMAGE_PIXELS"
#: Images with more pixels are refused (decompression-bomb guard).
DEFAULT_MAX_PIXELS = 50_000_000

CV2_LOADED_FIRST = "cv2" in sys.modules
os.environ.setdefault(LIMIT_VAR, str(DEFAULT_MAX_PIXELS))


def opencv_limit() -> int | None:
    """The pixel limit OpenCV enforces in this process, or None if it is unknown."""
    if CV2_LOADED_FIRST:
        return None
    try:
        return int(os.environ[LIMIT_VAR])
    except (KeyError, ValueError):
        return None
