"""The one place that chooses how a conv or FC layer is computed.

Implementations, one module each:

* `compiled` (numba): the C++'s exact accumulation orders at BLAS-like speed. Engine 'exact', the
  default. On the avx2 build it hands the conv panels whose kind of chain alternates every few
  pixels (and, in small box batches, those split only in a call's tail) to `by_channel`, which
  vectorises over channels with the explicit vectors of `lanes`.
* `reference` (numpy): the same bits, slow and readable; what the tests compare the compiled
  kernels against, and the fallback for 'exact' when numba cannot be imported.
* `blas` (numpy's sgemm): fast, last bits depend on the host's BLAS kernel; engine 'blas'.

`openblas` holds the rules of the two C++ builds (K blocks, call widths, split outputs) that both
exact implementations follow; `Arithmetic` bundles engine, C++ build and thread count.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import blas, openblas, reference
from .openblas import BUILDS, validate_build
from .reference import conv_weight_matrix
from .weights import derived

try:
    from . import borrowed, by_channel, compiled, lanes
    from .cache_guard import drop_stale

    _cache_dir = getattr(compiled.conv_span._cache, "_cache_path", None)  # None: numba caches nothing
    if _cache_dir is not None:
        drop_stale(_cache_dir, (compiled, by_channel, lanes, borrowed, openblas))
    COMPILED_ERROR = None
except Exception as exc:  # numba missing or broken: exact results still, from the numpy reference
    by_channel = compiled = None
    COMPILED_ERROR = f"{type(exc).__name__}: {exc}"

F32 = np.float32
if compiled is not None:
    _NO_GROUPS = (np.zeros((0, by_channel.LANES), np.int64), ())
    _NO_GROUPS[0].flags.writeable = False  # typed like _channel_groups' (read-only) arrays
#: 'auto' is the name of the default in earlier versions; it now means 'exact'.
ENGINES = ("exact", "reference", "blas", "auto")
MAX_THREADS = max(1, os.cpu_count() or 1)
#: Convs with more terms (K+1) than this hand their tail-split panels to by_channel too.
TAIL_PANEL_TERMS = 64
#: A conv is split into row bands for several threads only from this many multiply-adds on.
BAND_MIN_FMAS = 4_000_000


@dataclass(frozen=True)
class Arithmetic:
    """How a run computes its GEMMs: engine, the C++ build whose bits to reproduce, threads."""

    engine: str = "exact"
    build: str = "avx512"
    threads: int = 1

    @property
    def implementation(self) -> str:
        """'compiled', 'reference' or 'blas': what actually runs the GEMM layers."""
        if self.engine == "blas":
            return "blas"
        if self.engine == "reference" or compiled is None:
            return "reference"
        return "compiled"


def validate_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    return engine


def arithmetic(engine="exact", build: str = "avx512", threads: int | None = 1) -> Arithmetic:
    """An Arithmetic from user-facing values (an Arithmetic passes through), validated."""
    if isinstance(engine, Arithmetic):
        return engine
    validate_engine(engine)
    validate_build(build)
    if threads is None:
        threads = 1
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    return Arithmetic("exact" if engine == "auto" else engine, build, min(int(threads), MAX_THREADS))


_pool = None
_pool_lock = threading.Lock()


def _forget_pool():
    """In a forked child the parent's worker threads do not exist: start a new pool on demand."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def kernel_pool() -> ThreadPoolExecutor:
    """The process's worker threads (MAX_THREADS). Work given to it must not wait on it again:
    callers hand it single-threaded jobs (Arithmetic.threads == 1) or kernel bands only."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(MAX_THREADS, thread_name_prefix="mtcnn-kernels")
        return _pool


def _run_bands(fn, rows: int, threads: int):
    """fn(r0, r1) over `threads` bands of output rows; each output is computed by one call, so
    the result does not depend on the number of bands."""
    if threads <= 1 or rows < 2:
        fn(0, rows)
        return
    bands = min(threads, rows)
    edges = [rows * i // bands for i in range(bands + 1)]
    for f in [kernel_pool().submit(fn, a, b) for a, b in zip(edges[:-1], edges[1:])]:
        f.result()


# ---- convolution -------------------------------------------------------------------------------
def conv(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray, arith, prelu_slope: np.ndarray | None = None
) -> np.ndarray:
    """Valid stride-1 conv of planar x (C, H, W, N) float32 -> (O, Ho, Wo, N) float32. A PReLU's
    per-channel slopes may be fused in, by the compiled kernel only (see `fuses_prelu`)."""
    arith = arithmetic(arith)
    impl = arith.implementation
    if impl == "compiled":
        return _conv_compiled(x, weight, bias, arith, prelu_slope)
    if prelu_slope is not None:
        raise ValueError("only the compiled kernels fuse PReLU into a conv")
    return blas.conv(x, weight, bias) if impl == "blas" else reference.conv(x, weight, bias, arith.build)


def fuses_prelu(arith) -> bool:
    return arithmetic(arith).implementation == "compiled"


def _conv_compiled(x, weight, bias, arith, slope):
    c, h, w, n = x.shape
    o, _, kh, kw = weight.shape
    ho, wo = h - kh + 1, w - kw + 1
    wm = derived(weight, "conv_wm", conv_weight_matrix, bias)
    blocks = openblas.k_blocks(wm.shape[0])
    codes, table = openblas.column_codes(ho * wo), openblas.split_table(o, arith.build)
    fuse = slope is not None
    slope = np.ascontiguousarray(slope, F32) if fuse else np.zeros(o, F32)
    xf = np.zeros(x.size + compiled.PIXEL_TILE + 16, F32)  # slack: tiles read past the end
    xf[: x.size] = x.reshape(-1)
    out = np.empty((o, ho, wo * n), F32)
    plus_zero = arith.build == "avx2"
    taps = _tap_shifts(c, h, w, n, kh, kw)
    short_runs = 6 * n < compiled.UNIFORM_RUN
    groups, group_bits = _channel_groups(o, arith.build, wm.shape[0]) if short_runs else _NO_GROUPS
    wg = derived(wm, "group_weights", by_channel.group_weights, groups) if len(groups) else None

    def band(r0, r1):
        for g, bits in enumerate(group_bits):
            by_channel.conv_rows(
                xf, taps, wg[g], groups[g], bits, blocks, codes, plus_zero, slope, fuse, w * n, n, wo, out, r0, r1
            )
        compiled.conv_span(
            xf, taps, wm, blocks, codes, table, groups, plus_zero, slope, fuse, ho, w * n, n, wo, out, r0, r1
        )

    # small convs on one thread: splitting them costs more than it saves
    threads = arith.threads if o * ho * wo * n * wm.shape[0] >= BAND_MIN_FMAS else 1
    _run_bands(band, ho, threads)
    return out.reshape(o, ho, wo, n)


@lru_cache(maxsize=64)
def _channel_groups(o: int, build: str, terms: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """The channels `by_channel` computes in calls of fewer than 11 boxes (6*N pixels of one kind,
    too short for the pixel-vectorised tiles to run without selects): (G, LANES) int64 groups and
    each group's split classes as bits (bit c: two chains in column class c). The panels split
    only in a call's short tail calls join them when a conv has more than TAIL_PANEL_TERMS terms
    (below that, by_channel's per-pixel overheads cost more than the tail's selects)."""
    table = openblas.split_table(o, build)
    groups = by_channel.channel_groups(table, tail_panels=terms > TAIL_PANEL_TERMS)
    groups.flags.writeable = False
    bits = tuple(sum(int(table[g[0], c]) << c for c in range(table.shape[1])) for g in groups)
    return groups, bits


@lru_cache(maxsize=512)
def _tap_shifts(c, h, w, n, kh, kw) -> np.ndarray:
    """(C*kw*kh,) int64: where im2col term j = ci*kh*kw + cc*kh + r of output pixel q lies in the
    flattened (C, H, W, N) input, relative to q = (y*W + x)*N + box."""
    ci, cc, r = np.meshgrid(np.arange(c), np.arange(kw), np.arange(kh), indexing="ij")
    shifts = (((ci * h + r) * w + cc) * n).reshape(-1).astype(np.int64)
    shifts.flags.writeable = False
    return shifts


def maxpool(x: np.ndarray, ky: int, kx: int, sy: int, sx: int, oh: int, ow: int) -> np.ndarray:
    """Compiled C++ max pooling of planar x (C, H, W, N) -> (C, oh, ow, N) float32."""
    c, h, w, n = x.shape
    out = np.empty((c, oh, ow * n), F32)
    compiled.maxpool(np.ascontiguousarray(x, F32).reshape(c, h, w * n), n, ky, kx, sy, sx, out)
    return out.reshape(c, oh, ow, n)


# ---- fully connected ---------------------------------------------------------------------------
#: FC kinds (semantics 3.5/3.6): fc1 goes through OpenBLAS (m >= 100), the others through
#: cv::gemm's double sums, with the bias added in float32 (PNet per pixel) or in double.
FC_KINDS = ("fc1", "fc_seq_bias_float", "fc_seq_bias_double")


def fc(kind: str, cols: np.ndarray, weight: np.ndarray, bias: np.ndarray, arith) -> np.ndarray:
    """An FC over columns: cols (K, P) float32 (one column per pixel or box) -> (O, P) float32."""
    arith = arithmetic(arith)
    impl = arith.implementation
    if kind == "fc1":
        if impl == "compiled":
            return _fc1_compiled(np.ascontiguousarray(cols, F32), weight, bias, arith.build)
        v = np.ascontiguousarray(cols.T, F32)
        if impl == "blas":
            return blas.fc_lanes(v, weight, bias).T
        ref = reference.fc_lanes if arith.build == "avx512" else reference.fc_blocks
        return ref(v, weight, bias).T
    in_double = kind == "fc_seq_bias_double"
    if impl == "compiled":
        out = np.empty((weight.shape[0], cols.shape[1]), F32)
        compiled.fc_double_seq(
            np.ascontiguousarray(cols, F32),
            np.ascontiguousarray(weight, F32),
            np.ascontiguousarray(bias, F32),
            in_double,
            out,
        )
        return out
    fn = blas.fc_double_seq if impl == "blas" else reference.fc_double_seq
    return fn(np.ascontiguousarray(cols.T), weight, bias, in_double).T


#: fc1 chains run vectorised over the boxes from this many boxes on, else over the outputs
#: (measured: RNet's 64-box batches are faster over boxes, ONet's 32-box ones over outputs).
FC1_BOXES_VECTOR = 48


def _fc1_compiled(cols, weight, bias, build):
    """fc1 of N boxes: cols (K, N) f32 -> (O, N). Each lane (avx512: k = l, l+16, ...) or K block
    (avx2) is one chain per output, run for all boxes and outputs at once (vectorised over the
    longer of the two), then combined as the build does."""
    k, n = cols.shape
    o = weight.shape[0]
    chains = _fc1_chains(k, build)
    rows = max(int(t[-1]) for t in chains) + 1  # lanes may run past K on zero terms
    padded = np.zeros((rows, n), F32)
    padded[:k] = cols
    parts = []
    if n >= FC1_BOXES_VECTOR:  # runs over the boxes; each weight the broadcast factor
        xf = np.zeros(rows * n + compiled.PIXEL_TILE + 16, F32)
        xf[: padded.size] = padded.reshape(-1)
        wt = derived(weight, "fc1_rows", _weight_rows, rows)[: rows * o].reshape(rows, o)
        for terms in chains:
            out = np.empty((o, n), F32)
            compiled.chains(xf, (terms * n).astype(np.int64), np.ascontiguousarray(wt[terms]), out)
            parts.append(out)
    else:  # runs over the outputs; each box's input the factor
        wt = derived(weight, "fc1_rows", _weight_rows, rows)
        for terms in chains:
            out = np.empty((n, o), F32)
            compiled.chains(wt, (terms * o).astype(np.int64), np.ascontiguousarray(padded[terms]), out)
            parts.append(out.T)
    bias = bias.astype(F32)[:, None]
    if build == "avx512":  # 16 lanes, adjacent-pairwise (3.6), then + bias
        lanes = np.stack(parts)
        while len(lanes) > 1:
            lanes = lanes[0::2] + lanes[1::2]
        return lanes[0] + bias
    total = np.broadcast_to(bias, (o, n)).copy()  # C = bias, += each block's chain (6.8)
    for part in parts:
        total += part
    return total


def _weight_rows(weight: np.ndarray, rows: int) -> np.ndarray:
    """(O, K) -> flat (rows x O) float32: row k holds every output's weight for term k (zero past
    K), plus slack for the kernel's vector tail."""
    o, k = weight.shape
    flat = np.zeros(rows * o + compiled.PIXEL_TILE + 16, F32)
    flat[: k * o] = weight.T.reshape(-1)
    return flat


def _fc1_chains(k: int, build: str) -> list:
    """The term indices of each chain of fc1: 16 lanes (avx512; zero-padded past K like the
    reference), or one run per K block (avx2)."""
    if build == "avx512":
        return [np.arange(lane, -(-k // 16) * 16, 16) for lane in range(16)]
    return [np.arange(s, e) for s, e in openblas.k_blocks(k)]


def _resize_once():
    """The pyramid resize kernel once, through images.resize_planes."""
    from ..images import resize_planes

    resize_planes(np.zeros((5, 7, 3), np.uint8), 3, 4)


def _crop_once():
    """The crop kernel once, with the argument types boxes.crop_batch gives it."""
    size, n = 24, 1
    taps, weights = np.zeros((size, n), np.int64), np.zeros((size, n), F32)
    compiled.crop_bilinear(
        np.zeros((4, 4, 3), np.uint8),
        np.zeros(n, np.int64),
        np.zeros(n, np.int64),
        taps,
        taps,
        weights,
        taps,
        taps,
        weights,
        np.empty((3, size, size, n), F32),
    )


def warm_up(progress=None) -> float:
    """Compile (first use on a machine) or load from numba's cache (later starts) every compiled
    kernel, by running each once on a tiny input. progress(name, fraction) is called before each.
    Returns the seconds taken; 0 when the compiled kernels are unavailable."""
    if compiled is None:
        return 0.0
    import time

    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    x = rng.random((2, 5, 5, 2), dtype=F32)
    w, b = rng.random((16, 2, 3, 3), dtype=F32), rng.random(16, dtype=F32)
    steps = [
        ("convolution", lambda: conv(x, w, b, Arithmetic(), prelu_slope=b)),
        ("convolution (AVX2 build)", lambda: conv(x, w, b, Arithmetic(build="avx2"), prelu_slope=b)),
        ("max pooling", lambda: maxpool(x, 2, 2, 2, 2, 3, 3)),
        (
            "fc1 chains",
            lambda: fc(
                "fc1",
                rng.random((18, 2), dtype=F32),
                rng.random((128, 18), dtype=F32),
                rng.random(128, dtype=F32),
                Arithmetic(),
            ),
        ),
        (
            "double-sum FCs",
            lambda: fc(
                "fc_seq_bias_double", rng.random((4, 2), dtype=F32), rng.random((3, 4), dtype=F32), b[:3], Arithmetic()
            ),
        ),
        ("crops", _crop_once),
        ("pyramid resize", _resize_once),
        ("NMS", lambda: compiled.nms_greedy(np.ones((2, 4), np.int64), F32(0.5), False, np.full(2, -1, np.int64))),
        ("cv::exp", lambda: compiled.fma_scalar_into(x.reshape(-1), x.reshape(-1), F32(1), np.empty(x.size, F32))),
    ]
    for i, (name, run) in enumerate(steps):
        if progress is not None:
            progress(name, i / len(steps))
        run()
    return time.perf_counter() - t0


__all__ = [
    "Arithmetic",
    "arithmetic",
    "validate_engine",
    "validate_build",
    "ENGINES",
    "BUILDS",
    "conv",
    "fc",
    "maxpool",
    "fuses_prelu",
    "FC_KINDS",
    "COMPILED_ERROR",
    "MAX_THREADS",
    "kernel_pool",
    "warm_up",
]
