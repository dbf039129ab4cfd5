"""Which arithmetic path runs each layer: the exact kernels, the host BLAS, or 'auto'.

'auto' runs a one-off check per layer shape (a fixed pseudo-random problem, cached per process):
if the host BLAS gives the same bits as the exact chain, BLAS runs that shape, else the exact
kernel. Exactness therefore never depends on the machine; only speed does (semantics 6.6).
"""
from __future__ import annotations

import bisect
import threading
import zlib
from dataclasses import dataclass

import numpy as np

from . import kernels

ENGINES = ("auto", "exact", "blas")
#: Above this many GEMM rows the BLAS's per-output order no longer changes with the row count.
BIG_ROWS = 8192
ROW_UNIT = 64


@dataclass
class Verdict:
    """Result of one shape check: does the host BLAS reproduce the exact kernel?"""
    kind: str
    key: tuple
    blas_exact: bool
    differing: int
    total: int

    @property
    def path(self) -> str:
        return "blas" if self.blas_exact else "exact"

    def reason(self) -> str:
        if self.blas_exact:
            return f"host BLAS equal to the exact chain on all {self.total} outputs checked"
        return f"host BLAS differs in {self.differing} of {self.total} outputs checked"


_verdicts: dict = {}
_lock = threading.Lock()


def validate_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    return engine


#: Rows of each check compared with the exact kernel: the first and last blocks (edge kernels)
#: and a fixed pseudo-random sample in between.
CHECK_SAMPLE = 256


#: GEMM row counts up to BIG_ROWS are padded to the next of these: multiples of ROW_UNIT about
#: 2^(1/4) apart, so padding wastes at most 25 % (or < 64 rows) while a layer has at most 24
#: shapes to check. FCs (whose rows are boxes) may also use 8, 16 and 32 rows; convs may not: at
#: 8 rows OpenBLAS's small-matrix sgemm is not the chain for PNet conv3 (seen with SkylakeX).
ROW_BUCKETS = sorted({-(-int(ROW_UNIT * 2 ** (i / 4)) // ROW_UNIT) * ROW_UNIT for i in range(29)})
FC_ROW_BUCKETS = [8, 16, 32] + ROW_BUCKETS


def padded_rows(rows: int, fc: bool = False) -> int:
    """GEMM row count after padding: the next bucket up to BIG_ROWS, then a multiple of
    ROW_UNIT, so that only a few shapes per layer ever need a check."""
    rows = max(rows, 1)
    if rows <= BIG_ROWS:
        buckets = FC_ROW_BUCKETS if fc else ROW_BUCKETS
        return buckets[bisect.bisect_left(buckets, rows)]
    return -(-rows // ROW_UNIT) * ROW_UNIT


def _uniform(rng, shape, scale=1.0) -> np.ndarray:
    """float32 values in [-scale, scale): full-mantissa data, cheap to draw for 8192-row checks."""
    return (rng.random(shape, dtype=np.float32) * np.float32(2 * scale) - np.float32(scale))


def _sample_rows(rows: int, key) -> np.ndarray:
    if rows <= CHECK_SAMPLE:
        return np.arange(rows)
    quarter = CHECK_SAMPLE // 4
    middle = _rng(("rows",) + tuple(key)).choice(np.arange(quarter, rows - quarter), CHECK_SAMPLE // 2,
                                                  replace=False)
    return np.unique(np.concatenate([np.arange(quarter), middle, np.arange(rows - quarter, rows)]))


def row_bucket(rows: int, fc: bool = False):
    p = padded_rows(rows, fc)
    return p if p <= BIG_ROWS else "big"


def _rng(key) -> np.random.Generator:
    """A generator seeded from the shape only, so every process checks the same problem."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _check_conv(key) -> Verdict:
    k1, o, bucket = key
    rows = BIG_ROWS if bucket == "big" else bucket
    rng = _rng(key)
    a = _uniform(rng, (rows, k1 - 1))
    w = _uniform(rng, (k1, o), 0.1)
    rows_checked = _sample_rows(rows, key)
    blas = kernels.gemm_blas_rows(a, w)[rows_checked]
    exact = kernels.gemm_exact_rows(a[rows_checked], w)
    diff = int(np.count_nonzero(blas.view(np.uint32) != exact.view(np.uint32)))
    return Verdict("conv", key, diff == 0, diff, exact.size)


def _check_fc(key) -> Verdict:
    kind, k, o, bucket = key
    rows = BIG_ROWS if bucket == "big" else bucket
    rng = _rng(key)
    v = _uniform(rng, (rows, k))
    w = _uniform(rng, (o, k), 0.1)
    b = _uniform(rng, (o,))
    rows_checked = _sample_rows(rows, key)
    blas = blas_fc(kind, v, w, b)[rows_checked]
    exact = exact_fc(kind, v[rows_checked], w, b)
    diff = int(np.count_nonzero(blas.view(np.uint32) != exact.view(np.uint32)))
    return Verdict(kind, key, diff == 0, diff, exact.size)


def exact_fc(kind, v, w, b):
    """The C++'s arithmetic for an FC of this kind, with numpy's own exact kernels."""
    if kind == "fc_lanes":
        return kernels.fc_lanes_exact(v, w, b)
    return kernels.fc_double_seq(v, w, b, bias_in_double=(kind == "fc_seq_bias_double"))


def blas_fc(kind, v, w, b):
    """The same structure through the host BLAS (equal to exact_fc iff the BLAS chains in order)."""
    if kind == "fc_lanes":
        return kernels.fc_lanes_blas(v, w, b)
    return kernels.fc_seq_blas(v, w, b, bias_in_double=(kind == "fc_seq_bias_double"))


def verdict(kind: str, key: tuple) -> Verdict:
    """The cached check for a layer shape, running it on first use."""
    full = (kind,) + key
    with _lock:
        v = _verdicts.get(full)
    if v is None:
        v = _check_conv(key) if kind == "conv" else _check_fc((kind,) + key)
        with _lock:
            _verdicts[full] = v
    return v


def use_blas(engine: str, kind: str, key: tuple) -> bool:
    if engine == "blas":
        return True
    if engine == "exact":
        return False
    return verdict(kind, key).blas_exact


def known_verdicts() -> list:
    with _lock:
        return list(_verdicts.values())
