"""Per-layer time of `detect` for one engine, summed over pyramid levels and box batches.

    python bench/profile_layers.py [--engine exact] [--cpp-build avx2] [--threads 1] [--repeat 5] [IMAGE ...]

Default images: the reference photos. Prints, per network and layer, the milliseconds spent
(summed over the images; the least over --repeat passes, which keeps a noisy machine's
slow passes out) and the share of the networks' total.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import mtcnn_core as mc  # noqa: E402
from mtcnn_core import layers  # noqa: E402

SHARED = ROOT.parent / "shared"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("images", nargs="*")
    ap.add_argument("--engine", default="exact", choices=("exact", "reference", "blas"))
    ap.add_argument("--cpp-build", default="avx512", choices=("avx512", "avx2"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    kw = dict(engine=a.engine, cpp_build=a.cpp_build, threads=a.threads, cache=False)
    models = mc.load_models()
    owner = {
        id(layer): (name, i) for name in ("PNet", "RNet", "ONet") for i, layer in enumerate(models.network(name).layers)
    }
    spent = defaultdict(float)
    original, original_conv = layers.apply, layers.conv

    def timed_apply(x, layer, engine):
        t0 = time.perf_counter()
        out = original(x, layer, engine)
        spent[owner.get(id(layer), ("?", -1)) + (layer.kind,)] += time.perf_counter() - t0
        return out

    def timed_conv(x, layer, engine, prelu_layer=None):  # conv (+ the PReLU fused into it)
        t0 = time.perf_counter()
        out = original_conv(x, layer, engine, prelu_layer)
        kind = "conv" + ("+prelu" if prelu_layer is not None else "")
        spent[owner.get(id(layer), ("?", -1)) + (kind,)] += time.perf_counter() - t0
        return out

    paths = [Path(p) for p in a.images] or sorted(
        p for p in (SHARED / "reference" / "images").iterdir() if p.suffix in (".jpg", ".png")
    )
    images = [mc.load_image(p) for p in paths]
    for img in images:  # warm-up: loads the compiled kernels
        mc.detect(img, models=models, **kw)
    layers.apply, layers.conv = timed_apply, timed_conv
    best, total = {}, float("inf")
    for _ in range(a.repeat):
        spent.clear()
        t0 = time.perf_counter()
        for img in images:
            mc.detect(img, models=models, **kw)
        total = min(total, (time.perf_counter() - t0) * 1000)
        best = {key: min(s, best.get(key, s)) for key, s in spent.items()}
    layers.apply, layers.conv = original, original_conv
    nets = sum(best.values()) * 1000
    print(
        f"engine={a.engine} cpp_build={a.cpp_build} threads={a.threads} images={len(images)}: "
        f"detect {total:.0f} ms, "
        f"of which network layers {nets:.0f} ms"
    )
    for (net, i, kind), s in sorted(best.items()):
        print(f"  {net} layer {i:<2} {kind:<8} {s * 1000:9.1f} ms  {100 * s * 1000 / nets:5.1f} %")


if __name__ == "__main__":
    main()
