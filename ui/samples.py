"""The bundled sample images and their C++ reference traces (sample_images/)."""

from __future__ import annotations

import json
from pathlib import Path

from mtcnn_core import DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = ROOT / "sample_images"
CPP_DIR = SAMPLE_DIR / "cpp"
#: Bundled C++ traces of each OpenFace build: AVX-512 (OpenBLAS SkylakeX) and AVX2 (Haswell) CPUs.
CPP_DIRS = {"avx512": CPP_DIR, "avx2": SAMPLE_DIR / "cpp_haswell"}
DEFAULT_SAMPLE = "faces_at_scales.png"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")

DEFAULT_PARAMS = dict(DEFAULTS)  # OpenFace's DetectFaces defaults, as the core defines them
MFS20_PARAMS = {**DEFAULT_PARAMS, "min_face_size": 20, "t1": 0.5}


def sample_names() -> list[str]:
    """File names of the bundled images, default first."""
    names = sorted(p.name for p in SAMPLE_DIR.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if DEFAULT_SAMPLE in names:
        names.remove(DEFAULT_SAMPLE)
        names.insert(0, DEFAULT_SAMPLE)
    return names


def sample_bytes(name: str) -> bytes:
    """Bytes of one bundled image (name must be one of sample_names())."""
    if name not in sample_names():
        raise FileNotFoundError(name)
    return (SAMPLE_DIR / name).read_bytes()


def manifest() -> dict:
    """{file name: manifest entry} (source, licence, approximate face count)."""
    try:
        return {e["file"]: e for e in json.loads((SAMPLE_DIR / "manifest.json").read_text())}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def same_params(a: dict, b: dict) -> bool:
    """Parameter dicts equal up to float noise (0.709 typed in a widget vs 0.709 in JSON)."""
    try:
        return all(abs(float(a[k]) - float(b[k])) < 1e-6 for k in DEFAULT_PARAMS)
    except (KeyError, TypeError, ValueError):
        return False


def cpp_trace_path(image_name: str, params: dict, build: str = "avx512") -> Path | None:
    """The bundled C++ trace of a sample for these parameters and OpenFace build: `<stem>.json`
    for OpenFace's defaults, `<stem>__mfs20.json` for min face 20 / t1 0.5; None when none."""
    stem = Path(image_name).stem
    for suffix, ref in (("", DEFAULT_PARAMS), ("__mfs20", MFS20_PARAMS)):
        path = CPP_DIRS[build] / f"{stem}{suffix}.json"
        if path.exists() and same_params(params, ref):
            return path
    return None


def cpp_traces_for(image_name: str, build: str = "avx512") -> list[Path]:
    """Every bundled C++ trace of a sample (any parameters) made by that OpenFace build."""
    stem = Path(image_name).stem
    return sorted(p for p in CPP_DIRS[build].glob(f"{stem}*.json") if p.stem.split("__")[0] == stem)
