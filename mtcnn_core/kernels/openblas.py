"""How OpenBLAS accumulates the C++'s GEMMs, per build: K blocks, call widths and split outputs.

Two OpenFace builds are common (semantics 3.2, 3.6 and 6.8):

* ``avx512``: OpenBLAS's SkylakeX/Cooperlake kernels. Every conv output is one FMA chain per K
  block (the blocks added in float32); fc1 is the 16-lane dot of 3.6.
* ``avx2``: the Haswell kernel. Some outputs are two interleaved chains, depending on the output
  channel and on the column's place in the GEMM call (6.8); blocks start from C = +0; fc1 is one
  chain per K block added onto the bias.

Everything here is pure Python/numpy and shared by the reference and the compiled kernels.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

BUILDS = ("avx512", "avx2")
#: Column calls are cut into chunks of GEMM_R columns (Haswell build, 6.8).
GEMM_R = 104512
GEMM_Q = 320
#: Column classes of `column_codes`.
NARROW, WIDTH4, WIDE_LEFT, WIDE_RIGHT = 0, 1, 2, 3


def validate_build(build: str) -> str:
    if build not in BUILDS:
        raise ValueError(f"cpp_build must be one of {', '.join(BUILDS)}, got {build!r}")
    return build


def k_blocks(k1: int) -> np.ndarray:
    """(B, 2) int64 [start, end) of OpenBLAS's K blocks for K1 terms (6.8; for MTCNN only ONet
    conv3's 577 and fc1's 576/1152 are split, the same in both builds as 3.2 observed)."""
    out, ls = [], 0
    while ls < k1:
        rem = k1 - ls
        if rem >= 2 * GEMM_Q:
            step = GEMM_Q
        elif rem > GEMM_Q:
            step = ((rem // 2 + 7) // 8) * 8
        else:
            step = rem
        out.append((ls, ls + step))
        ls += step
    return np.array(out, np.int64).reshape(-1, 2)


@lru_cache(maxsize=256)
def column_codes(columns: int) -> np.ndarray:
    """(columns,) uint8 class of each column of one GEMM call of that width (6.8): chunks of
    GEMM_R; inside, calls of 12 while >= 12 remain (left/right half by position < 6), then of 4
    while > 4 remain, then the rest (1-4: NARROW, or WIDTH4 when exactly 4)."""
    codes = np.empty(columns, np.uint8)
    for c0 in range(0, columns, GEMM_R):
        chunk = codes[c0 : min(c0 + GEMM_R, columns)]
        wide = len(chunk) // 12 * 12
        chunk[:wide].reshape(-1, 12)[:, :6] = WIDE_LEFT
        chunk[:wide].reshape(-1, 12)[:, 6:] = WIDE_RIGHT
        rest = len(chunk) - wide  # 0..11: (rest - 1) // 4 calls of 4, then 1-4 columns
        fours = 4 * ((rest - 1) // 4) if rest else 0
        chunk[wide : wide + fours] = WIDTH4
        chunk[wide + fours :] = WIDTH4 if rest - fours == 4 else NARROW
    codes.flags.writeable = False
    return codes


@lru_cache(maxsize=64)
def split_table(m: int, build: str) -> np.ndarray:
    """(m, 4) uint8: 1 where output channel `m` of a column class is two interleaved chains."""
    table = np.zeros((m, 4), np.uint8)
    if build == "avx2":
        panels = m // 8
        ch = np.arange(m)
        in_panels = ch < 8 * panels
        last_panel = (ch >= 8 * (panels - 1)) & in_panels
        table[:, WIDTH4] = in_panels
        if m >= 16:
            table[:, WIDE_LEFT] = (ch < 8) | (last_panel & (panels % 2 == 0))
            table[:, WIDE_RIGHT] = last_panel & (panels % 2 == 1)
    table.flags.writeable = False
    return table


def split_mask(m: int, columns: int, build: str) -> np.ndarray:
    """(m, columns) bool: which outputs of one GEMM call are split (for the reference kernels)."""
    return split_table(m, build)[:, column_codes(columns)].astype(bool)
