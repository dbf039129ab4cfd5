"""Build models/{PNet,RNet,ONet}.dat from the MIT-licensed MTCNN weights in facenet-pytorch 2.6.0.

Usage:
    d="$(mktemp -d)"
    pip download --no-deps facenet-pytorch==2.6.0 -d "$d"
    python tools/build_models.py "$d"/facenet_pytorch-2.6.0-py3-none-any.whl [--out models]

The wheel's `facenet_pytorch/data/{pnet,rnet,onet}.pt` are legacy (non-zip) torch pickles. They
are read here with a restricted unpickler that only knows the three names the files use, so
neither torch nor arbitrary code is involved. The layout mapping is docs/semantics.md's 1.8; the
result is byte-identical to OpenFace 2.2.0's files (SHA-256 checked by tests/test_models.py).
"""

from __future__ import annotations

import argparse
import collections
import io
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mtcnn_core.dat_format import ConvLayer, FCLayer, PoolLayer, PReLULayer, write_dat  # noqa: E402
from mtcnn_core.models import OPENFACE_SHA256, file_sha256  # noqa: E402


class _Storage:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class _Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride


class _RestrictedUnpickler(pickle.Unpickler):
    """Knows OrderedDict, torch's tensor rebuild function and FloatStorage; refuses anything else."""

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda storage, offset, size, stride, *rest: _Tensor(storage, offset, size, stride)
        if (module, name) == ("torch", "FloatStorage"):
            return "float32"
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel, view_metadata)
        return _Storage(pid[2], pid[4])


class _DataUnpickler(pickle.Unpickler):
    """Plain data only (ints, strings, lists, dicts): every class or function is refused."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def load_legacy_state_dict(data: bytes) -> dict:
    """Read a legacy torch `.pt` (magic, protocol, sys info, state dict, storage keys, storages)."""
    f = io.BytesIO(data)
    for _ in range(3):
        _DataUnpickler(f).load()  # magic number, protocol version, sys info: plain ints and dicts
    state = _RestrictedUnpickler(f).load()
    keys = _DataUnpickler(f).load()
    raw = {}
    for key in keys:
        numel = int.from_bytes(f.read(8), "little")
        raw[key] = np.frombuffer(f.read(numel * 4), dtype="<f4")
    out = {}
    for name, t in state.items():
        base = raw[t.storage.key]
        out[name] = np.lib.stride_tricks.as_strided(
            base[t.offset :], shape=t.size, strides=[s * 4 for s in t.stride]
        ).astype(np.float32)
    return out


def _conv(sd, name):
    return ConvLayer(sd[f"{name}.weight"], sd[f"{name}.bias"])


def _prelu(sd, name):
    return PReLULayer(sd[f"{name}.weight"], slope_shape=(sd[f"{name}.weight"].size, 1))


def _fc(weight, bias):
    return FCLayer(np.ascontiguousarray(weight, dtype=np.float32), bias.astype(np.float32), bias_shape=(bias.size, 1))


def _fc1_from_dense(sd, name):
    """facenet's dense weight (out, W*H*C) -> OpenFace's (out, C*W*H) order (semantics 1.8)."""
    w = sd[f"{name}.weight"]
    c = w.shape[1] // 9
    w = w.reshape(w.shape[0], 3, 3, c).transpose(0, 3, 1, 2).reshape(w.shape[0], -1)
    return _fc(w, sd[f"{name}.bias"])


def _head(sd, names):
    w = np.concatenate([sd[f"{n}.weight"].reshape(sd[f"{n}.weight"].shape[0], -1) for n in names])
    b = np.concatenate([sd[f"{n}.bias"] for n in names])
    return _fc(w, b)


def pnet_layers(sd):
    return [
        _conv(sd, "conv1"),
        _prelu(sd, "prelu1"),
        PoolLayer(2, 2, 2, 2),
        _conv(sd, "conv2"),
        _prelu(sd, "prelu2"),
        _conv(sd, "conv3"),
        _prelu(sd, "prelu3"),
        _head(sd, ["conv4_1", "conv4_2"]),
    ]


def rnet_layers(sd):
    return [
        _conv(sd, "conv1"),
        _prelu(sd, "prelu1"),
        PoolLayer(3, 3, 2, 2),
        _conv(sd, "conv2"),
        _prelu(sd, "prelu2"),
        PoolLayer(3, 3, 2, 2),
        _conv(sd, "conv3"),
        _prelu(sd, "prelu3"),
        _fc1_from_dense(sd, "dense4"),
        _prelu(sd, "prelu4"),
        _head(sd, ["dense5_1", "dense5_2"]),
    ]


def onet_layers(sd):
    return [
        _conv(sd, "conv1"),
        _prelu(sd, "prelu1"),
        PoolLayer(3, 3, 2, 2),
        _conv(sd, "conv2"),
        _prelu(sd, "prelu2"),
        PoolLayer(3, 3, 2, 2),
        _conv(sd, "conv3"),
        _prelu(sd, "prelu3"),
        PoolLayer(2, 2, 2, 2),
        _conv(sd, "conv4"),
        _prelu(sd, "prelu4"),
        _fc1_from_dense(sd, "dense5"),
        _prelu(sd, "prelu5"),
        _head(sd, ["dense6_1", "dense6_2", "dense6_3"]),
    ]


BUILDERS = {"PNet": ("pnet.pt", pnet_layers), "RNet": ("rnet.pt", rnet_layers), "ONet": ("onet.pt", onet_layers)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", help="facenet_pytorch-2.6.0-py3-none-any.whl")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "models"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(args.wheel) as wheel:
        for net, (pt, build) in BUILDERS.items():
            sd = load_legacy_state_dict(wheel.read(f"facenet_pytorch/data/{pt}"))
            target = out / f"{net}.dat"
            target.write_bytes(write_dat(build(sd)))
            digest = file_sha256(target)
            status = "matches OpenFace 2.2.0" if digest == OPENFACE_SHA256[net] else "DIFFERS"
            print(f"{target}: {target.stat().st_size} bytes, sha256 {digest} ({status})")
    (out / "MTCNN_detector.txt").write_text("PNet PNet.dat\nRNet RNet.dat\nONet ONet.dat\n")


if __name__ == "__main__":
    main()
