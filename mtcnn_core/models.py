"""Where the model files live, their provenance checks, and loading a PNet/RNet/ONet set."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .dat_format import NETWORK_NAMES, read_detector_index
from .errors import ModelFormatError

BUNDLED_DIR = Path(__file__).resolve().parents[1] / "models"

#: SHA-256 of OpenFace 2.2.0's model files (semantics 1.5).
OPENFACE_SHA256 = {
    "PNet": "22dfd0a96ec983e99b21c0e214d89d55ea9a471eedd53e5a48203f22bcb4c489",
    "RNet": "95e9c4203ca0a08c84520fa5fd658834213ed2453a7359f4d9514a06762f91e9",
    "ONet": "4c853ae5b461abe4d41f1cd77625895cd71452956c63c622fd75a3b820fb1d31",
}


def file_sha256(path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
