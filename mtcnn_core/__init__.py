"""mtcnn_core: OpenFace 2.2's C++ MTCNN face detector, reproduced bit for bit in numpy + cv2.

See docs/core_api.md for the API and ../shared/docs/openface_mtcnn_semantics.md for the rules.
"""
from . import _blas_env  # noqa: F401  (must run before numpy is imported)
from . import _decode_env  # noqa: F401  (must run before cv2 is imported)
from .compare import CompareReport, compare
from .cascade import (DEFAULTS, __version__, crop_input, detect, detect_bytes, pnet_input, pyramid,
                      validate_params)
from .errors import ImageError, ModelFormatError, MTCNNInputError, TraceFormatError
from .images import DEFAULT_MAX_PIXELS, DecodedImage, decode_image, load_image
from .models import BUNDLED_DIR, OPENFACE_SHA256, ModelSet, load_models
from .trace import BoxSet, Filtered, NetStage, ScaleTrace, Trace


def engine_report(models=None) -> str:
    """Which path (exact kernel or host BLAS) each layer of each network runs, and why."""
    from .report import engine_report as _report
    return _report(models)


__all__ = ["detect", "detect_bytes", "CompareReport", "load_image", "decode_image", "load_models", "compare", "engine_report",
           "pnet_input", "crop_input", "pyramid", "validate_params", "Trace", "BoxSet", "Filtered",
           "NetStage", "ScaleTrace", "ModelSet", "DecodedImage", "ModelFormatError", "ImageError",
           "TraceFormatError", "MTCNNInputError", "DEFAULTS", "DEFAULT_MAX_PIXELS", "BUNDLED_DIR",
           "OPENFACE_SHA256", "__version__"]
