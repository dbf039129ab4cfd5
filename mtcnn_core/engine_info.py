"""`engine_report()`: per network and layer, which kernels run it and which C++ rule they follow;
and what numpy's host BLAS is (name, OpenBLAS core, thread count), which only engine 'blas' uses."""

from __future__ import annotations

import numpy as np

from .models import load_models
from .network import NET_INPUT


def blas_description() -> str:
    """numpy's BLAS library, version and (for OpenBLAS) the core kernel it picked."""
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        text = f"{cfg.get('name', '?')} {cfg.get('version', '')}".strip()
    except Exception:
        text = "unknown BLAS"
    core = openblas_core()
    return text + (f", core {core}" if core else "")


def _openblas_function(names):
    """The first of `names` exported by numpy's bundled OpenBLAS (via ctypes), or None."""
    import ctypes
    import glob
    import os

    for lib in glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*openblas*")):
        try:
            so = ctypes.CDLL(lib)
        except OSError:
            continue
        for sym in names:
            fn = getattr(so, sym, None)
            if fn is not None:
                return fn
    return None


def openblas_core() -> str | None:
    """The kernel family numpy's OpenBLAS picked (e.g. 'SkylakeX', 'Haswell'), if it says."""
    import ctypes

    fn = _openblas_function(
        (
            "scipy_openblas_get_corename64_",
            "openblas_get_corename64_",
            "scipy_openblas_get_corename",
            "openblas_get_corename",
        )
    )
    if fn is None:
        return None
    fn.restype = ctypes.c_char_p
    return fn().decode()


def set_blas_threads(n: int) -> bool:
    """Set numpy's OpenBLAS thread count now (OPENBLAS_NUM_THREADS only works before numpy loads,
    e.g. not in a forked worker). Returns False when the BLAS offers no such call."""
    import ctypes

    fn = _openblas_function(
        (
            "scipy_openblas_set_num_threads64_",
            "openblas_set_num_threads64_",
            "scipy_openblas_set_num_threads",
            "openblas_set_num_threads",
        )
    )
    if fn is None:
        return False
    fn.argtypes = [ctypes.c_int]
    fn(int(n))
    return True


def engine_report(models=None, engine="exact", cpp_build="avx512") -> str:
    """A readable account of how each GEMM layer is computed: the implementation that runs it
    (compiled, numpy reference or host BLAS), the C++ build's rule (K blocks, split outputs)."""
    from . import kernels
    from .kernels import openblas

    models = models if hasattr(models, "pnet") else load_models(models)
    arith = kernels.arithmetic(engine, cpp_build)
    lines = [
        f"engine {arith.engine!r}: layers run by the {IMPLEMENTATION_TEXT[arith.implementation]}",
        f"C++ build reproduced: {BUILD_TEXT[arith.build]}",
        f"host BLAS (used by engine 'blas' only): {blas_description()}",
    ]
    if kernels.COMPILED_ERROR is not None:
        lines.insert(
            1,
            "WARNING: the compiled kernels are unavailable ("
            + kernels.COMPILED_ERROR
            + "); exact results come from the numpy reference, 10-20x slower. "
            "Fix: pip install -r requirements.txt (numba)",
        )
    for name in ("PNet", "RNet", "ONet"):
        net = models.network(name)
        side = NET_INPUT[name]
        shapes = [(3, side, side)] + net.shapes(side)
        for i, layer in enumerate(net.layers):
            if layer.kind not in ("conv", "fc"):
                continue
            lines.append(f"  {name} layer {i:<2} {_layer_rule(layer, shapes[i], arith.build, openblas)}")
    return "\n".join(lines)


IMPLEMENTATION_TEXT = {
    "compiled": "compiled exact kernels (numba, FMA chains in the C++'s order)",
    "reference": "numpy reference kernels (exact FMA emulation, slow)",
    "blas": "host BLAS (fast; last bits depend on this machine's BLAS kernel, not the C++'s)",
}
BUILD_TEXT = {
    "avx512": "avx512 (OpenBLAS SkylakeX/Cooperlake kernels, AVX-512 CPUs)",
    "avx2": "avx2 (OpenBLAS Haswell kernel, AVX2-only CPUs)",
}


def _layer_rule(layer, in_shape, build, openblas) -> str:
    """One line: the layer's GEMM and how the build accumulates it."""
    if layer.kind == "conv":
        o, c, kh, kw = layer.weight.shape
        k1 = c * kh * kw + 1
        blocks = openblas.k_blocks(k1)
        table = openblas.split_table(o, build)
        split = int(table.any(axis=1).sum())
        what = f"conv {c}->{o} {kh}x{kw}, K+1={k1}"
        how = f"{len(blocks)} K block(s)" + (f" {[tuple(map(int, b)) for b in blocks]}" if len(blocks) > 1 else "")
        how += (
            f", {split} of {o} channels split into 2 chains in some columns" if split else ", one FMA chain per output"
        )
        return f"{what:<28} {how}"
    o, k = layer.weight.shape
    per_pixel = len(in_shape) == 3 and in_shape[0] == k
    if o >= 100:
        how = (
            "16 FMA lanes, adjacent-pairwise sum, + bias"
            if build == "avx512"
            else f"bias + one FMA chain per K block {[tuple(map(int, b)) for b in openblas.k_blocks(k)]}"
        )
    else:
        how = "cv::gemm sequential double sum, bias " + ("in float32 after" if per_pixel else "in double")
    return f"{'fc ' + str(k) + '->' + str(o):<28} {how}"
