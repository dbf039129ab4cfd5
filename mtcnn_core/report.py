"""`engine_report()`: per network and layer, which path 'auto' runs on this host and why."""
from __future__ import annotations

import numpy as np

from . import engine as eng
from .layers import engine_check
from .models import load_models
from .network import NET_INPUT

#: Batch sizes the report checks for RNet/ONet (one box, and a typical batch).
REPORT_BATCHES = {"PNet": (1,), "RNet": (1, 64), "ONet": (1, 16)}
PNET_REPORT_SIDE = 200   # a PNet level large enough for the 'big' row bucket


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
    fn = _openblas_function(("scipy_openblas_get_corename64_", "openblas_get_corename64_",
                             "scipy_openblas_get_corename", "openblas_get_corename"))
    if fn is None:
        return None
    fn.restype = ctypes.c_char_p
    return fn().decode()


def set_blas_threads(n: int) -> bool:
    """Set numpy's OpenBLAS thread count now (OPENBLAS_NUM_THREADS only works before numpy loads,
    e.g. not in a forked worker). Returns False when the BLAS offers no such call."""
    import ctypes
    fn = _openblas_function(("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                             "scipy_openblas_set_num_threads", "openblas_set_num_threads"))
    if fn is None:
        return False
    fn.argtypes = [ctypes.c_int]
    fn(int(n))
    return True


def _layer_keys(net, side, batch):
    """(layer index, layer, kind, key) of the GEMM layers for a batch of side x side inputs,
    from the same rule the layers use (layers.engine_check)."""
    shapes = [(3, side, side)] + net.shapes(side)
    for i, layer in enumerate(net.layers):
        chw = shapes[i]
        planar = (chw[0], chw[1], chw[2], batch) if len(chw) == 3 else (batch,) + tuple(chw)
        check = engine_check(layer, planar)
        if check is not None:
            yield (i, layer) + check


def engine_report(models=None) -> str:
    """A readable table: network, layer, GEMM shape, batch, path under 'auto', reason."""
    models = models if hasattr(models, "pnet") else load_models(models)
    lines = [f"host BLAS: {blas_description()}", "engine 'auto' per layer (checked once per shape):"]
    for name in ("PNet", "RNet", "ONet"):
        net = models.network(name)
        side = PNET_REPORT_SIDE if name == "PNet" else NET_INPUT[name]
        for batch in REPORT_BATCHES[name]:
            for i, layer, kind, key in _layer_keys(net, side, batch):
                v = eng.verdict(kind, key)
                what = f"{kind} K={key[0]} out={key[1]}"
                rows = "rows>8192" if key[2] == "big" else f"rows={key[2]}"
                who = f"{name} layer {i}" + (f" (batch {batch})" if name != "PNet" else "")
                lines.append(f"  {who:<22} {what:<30} {rows:<10} -> {v.path:<5}: {v.reason()}")
    return "\n".join(lines)
