"""Where the model files live, their provenance checks, and loading a PNet/RNet/ONet set."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .dat_format import NETWORK_NAMES, read_detector_index
from .errors import ModelFormatError


def _bundled_dir() -> Path:
    """The shipped model set: inside the package when installed from a wheel, else the checkout's models/."""
    here = Path(__file__).resolve().parent
    installed = here / "models"
    return installed if (installed / "MTCNN_detector.txt").is_file() else here.parent / "models"


BUNDLED_DIR = _bundled_dir()

#: SHA-256 of OpenFace 2.2.0's model files (semantics 1.5).
OPENFACE_SHA256 = {
    "PNet": "22dfd0a96ec983e99b21c0e214d89d55ea9a471eedd53e5a48203f22bcb4c489",
    "RNet": "95e9c4203ca0a08c84520fa5fd658834213ed2453a7359f4d9514a06762f91e9",
    "ONet": "4c853ae5b461abe4d41f1cd77625895cd71452956c63c622fd75a3b820fb1d31",
}


def file_sha256(path) -> str:
    """Hex SHA-256 of a file's bytes."""
    from .safe_io import MAX_MODEL_BYTES, read_regular_file

    return hashlib.sha256(read_regular_file(path, MAX_MODEL_BYTES)).hexdigest()


@dataclass(eq=False)
class ModelSet:
    """The three networks of one model folder, with each file's SHA-256."""

    folder: Path
    files: dict  # {'PNet': Path, ...}
    sha256: dict  # {'PNet': hex, ...}
    pnet: object
    rnet: object
    onet: object

    @property
    def matches_openface(self) -> dict:
        return {n: self.sha256[n] == OPENFACE_SHA256[n] for n in NETWORK_NAMES}

    def network(self, name: str):
        return {"PNet": self.pnet, "RNet": self.rnet, "ONet": self.onet}[name]


def model_files(folder) -> dict:
    """{'PNet': path, ...}: from MTCNN_detector.txt if the folder has one, else PNet.dat etc."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFormatError(folder, None, "model folder does not exist")
    index = folder / "MTCNN_detector.txt"
    if index.is_file():
        return read_detector_index(index)
    files = {n: folder / f"{n}.dat" for n in NETWORK_NAMES}
    missing = [str(p.name) for p in files.values() if not p.is_file()]
    if missing:
        raise ModelFormatError(folder, None, f"missing {', '.join(missing)} (and no MTCNN_detector.txt)")
    return files


_cache: dict = {}


def load_models(folder=None, custom_architecture: bool = False) -> ModelSet:
    """Load PNet/RNet/ONet from `folder` (default: the bundled models/), cached per file state.

    Each network must have OpenFace's MTCNN layer shapes unless custom_architecture is True
    (then any consistent network within architecture.py's size bounds)."""
    from .network import load_network

    folder = Path(folder) if folder is not None else BUNDLED_DIR
    files = model_files(folder)
    key = tuple((n, str(p), p.stat().st_mtime_ns, p.stat().st_size) for n, p in files.items())
    key += (bool(custom_architecture),)
    if key not in _cache:
        nets = {n: load_network(n, p, custom_architecture) for n, p in files.items()}
        _cache.clear()  # keep one set: a model set is ~2 MB and users switch rarely
        _cache[key] = ModelSet(
            folder, files, {n: file_sha256(p) for n, p in files.items()}, nets["PNet"], nets["RNet"], nets["ONet"]
        )
    return _cache[key]
