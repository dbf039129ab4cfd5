"""mtcnn_core: OpenFace 2.2's C++ MTCNN face detector, reproduced bit for bit in numpy + cv2.

See docs/core_api.md for the API and docs/semantics.md for the C++ rules it reproduces.
"""

from . import _decode_env  # noqa: F401  (must run before cv2 is imported)
from .cascade import DEFAULTS, __version__, crop_input, detect, detect_bytes, pnet_input, pyramid, validate_params
from .compare import CompareReport, compare
from .errors import ImageError, ModelFormatError, MTCNNInputError, TraceFormatError
from .identify import BuildMatch, identify_build
from .images import DEFAULT_MAX_PIXELS, DecodedImage, decode_image, load_image
from .kernels import BUILDS
from .models import BUNDLED_DIR, OPENFACE_SHA256, ModelSet, load_models
from .trace import BoxSet, Filtered, NetStage, ScaleTrace, Trace


def engine_report(models=None, engine="exact", cpp_build="avx512") -> str:
    """How each GEMM layer of each network is computed (kernels and the C++ build's rule)."""
    from .engine_info import engine_report as _report

    return _report(models, engine, cpp_build)


__all__ = [
    "detect",
    "detect_bytes",
    "CompareReport",
    "load_image",
    "decode_image",
    "load_models",
    "compare",
    "engine_report",
    "pnet_input",
    "crop_input",
    "pyramid",
    "validate_params",
    "Trace",
    "BoxSet",
    "Filtered",
    "NetStage",
    "ScaleTrace",
    "ModelSet",
    "DecodedImage",
    "ModelFormatError",
    "ImageError",
    "TraceFormatError",
    "MTCNNInputError",
    "DEFAULTS",
    "DEFAULT_MAX_PIXELS",
    "BUNDLED_DIR",
    "OPENFACE_SHA256",
    "__version__",
    "identify_build",
    "BuildMatch",
    "BUILDS",
]
