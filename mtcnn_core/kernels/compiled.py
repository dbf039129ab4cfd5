"""Compiled exact kernels (numba): the C++'s accumulation orders at BLAS-like speed.

No fast-math of any kind: numba's default (no `fastmath=`) emits IEEE `fadd`/`fmul` without the
`contract` or `reassoc` flags, so LLVM neither fuses a*b+c on its own nor reorders a sum. The only
fused multiply-add is `fma32`, LLVM's `llvm.fma.f32` intrinsic: one rounding on every target (the
hardware instruction where there is one, libm's fmaf otherwise). Loops are written so that LLVM
vectorises across independent outputs (pixels of a row), never across the terms of one chain, so
every output is the same sequence of roundings whatever the vector width, tiling or threads.

Layouts: maps are planar (C, H, W, N) float32 (the N boxes innermost, as in `layers`); weight
matrices are (K+1, O) float32 in the C++'s im2col order with the bias as the last row.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from .borrowed import borrow, keep_alive

F32, F64 = np.float32, np.float64
#: Output channels and pixels of one accumulator tile (8 x 512 floats stay in L1).
CHANNEL_TILE, PIXEL_TILE = 8, 512
#: Pixels of one split class (all sequential or all split) worth a segment without selects.
UNIFORM_RUN = 64


@intrinsic
def fma32(typingctx, a, b, c):
    """float32 a*b + c with a single rounding (llvm.fma.f32)."""
    sig = types.float32(types.float32, types.float32, types.float32)

    def codegen(context, builder, signature, args):
        flt = ir.FloatType()
        fn = builder.module.declare_intrinsic("llvm.fma", [flt], ir.FunctionType(flt, [flt] * 3))
        return builder.call(fn, args)

    return sig, codegen


# ---- convolution -------------------------------------------------------------------------------
# The conv is computed on a "virtual" output grid as wide as the input: with the input flattened
# to one (C*H*W*N) vector, output pixel q = (y*W + x)*N + n reads tap (ci, c, r) at
# q + ((ci*H + r)*W + c)*N, a pure shift. So every tap is one long contiguous run (vectorised, no
# per-row tails); the columns x >= Wo are computed from neighbouring data and never stored.
@njit(cache=True, nogil=True)
def _seq_taps(xf, taps, q0, wm, j0, j1, o0, ob_n, acc, pt):
    """acc[:ob_n, :pt] continues the chains of channels o0.. over terms j0..j1-1 (no bias)."""
    j = j0
    while j + 3 <= j1:
        b0, b1, b2 = q0 + taps[j], q0 + taps[j + 1], q0 + taps[j + 2]
        s0, s1, s2 = xf[b0 : b0 + pt], xf[b1 : b1 + pt], xf[b2 : b2 + pt]
        ob = 0
        while ob + 4 <= ob_n:  # 3 taps x 4 channels per pass over the accumulators
            o = o0 + ob
            w00, w01, w02, w03 = wm[j, o], wm[j, o + 1], wm[j, o + 2], wm[j, o + 3]
            w10, w11, w12, w13 = wm[j + 1, o], wm[j + 1, o + 1], wm[j + 1, o + 2], wm[j + 1, o + 3]
            w20, w21, w22, w23 = wm[j + 2, o], wm[j + 2, o + 1], wm[j + 2, o + 2], wm[j + 2, o + 3]
            a0, a1, a2, a3 = acc[ob], acc[ob + 1], acc[ob + 2], acc[ob + 3]
            for p in range(pt):
                x0, x1, x2 = s0[p], s1[p], s2[p]
                a0[p] = fma32(x2, w20, fma32(x1, w10, fma32(x0, w00, a0[p])))
                a1[p] = fma32(x2, w21, fma32(x1, w11, fma32(x0, w01, a1[p])))
                a2[p] = fma32(x2, w22, fma32(x1, w12, fma32(x0, w02, a2[p])))
                a3[p] = fma32(x2, w23, fma32(x1, w13, fma32(x0, w03, a3[p])))
            ob += 4
        while ob < ob_n:
            w0, w1, w2 = wm[j, o0 + ob], wm[j + 1, o0 + ob], wm[j + 2, o0 + ob]
            a = acc[ob]
            for p in range(pt):
                a[p] = fma32(s2[p], w2, fma32(s1[p], w1, fma32(s0[p], w0, a[p])))
            ob += 1
        j += 3
    while j < j1:
        b0 = q0 + taps[j]
        s0 = xf[b0 : b0 + pt]
        for ob in range(ob_n):
            w0 = wm[j, o0 + ob]
            a = acc[ob]
            for p in range(pt):
                a[p] = fma32(s0[p], w0, a[p])
        j += 1


@njit(cache=True, nogil=True)
def _split_taps(xf, taps, q0, wm, j0, j1, o0, ob_n, acc, odd, mask, pt):
    """Terms j0..j1-1 in (even, odd) pairs: even terms on acc; odd terms on `odd` where mask is
    set (the split outputs of semantics 6.8), else on acc. j1 - j0 is even. Two pairs x two
    channels per pass (the sources loaded once for both), branch-free (selects, unconditional
    stores) so that it vectorises. Where mask is clear `odd` ends up holding scratch (the last
    odd term's partial sum), which the block's final combine ignores there."""
    j = j0
    while j < j1:
        four = j + 4 <= j1
        b0, b1 = q0 + taps[j], q0 + taps[j + 1]
        b2, b3 = (q0 + taps[j + 2], q0 + taps[j + 3]) if four else (b0, b1)
        s0, s1, s2, s3 = xf[b0 : b0 + pt], xf[b1 : b1 + pt], xf[b2 : b2 + pt], xf[b3 : b3 + pt]
        ob = 0
        while ob + 2 <= ob_n and four:
            o = o0 + ob
            a, b, m = acc[ob], odd[ob], mask[ob]
            c, d, n = acc[ob + 1], odd[ob + 1], mask[ob + 1]
            w0, w1, w2, w3 = wm[j, o], wm[j + 1, o], wm[j + 2, o], wm[j + 3, o]
            v0, v1, v2, v3 = wm[j, o + 1], wm[j + 1, o + 1], wm[j + 2, o + 1], wm[j + 3, o + 1]
            for p in range(pt):
                x0, x1, x2, x3 = s0[p], s1[p], s2[p], s3[p]
                split, bo = m[p] != 0, b[p]
                e = fma32(x0, w0, a[p])
                t = fma32(x1, w1, bo if split else e)
                e = fma32(x2, w2, e if split else t)
                t = fma32(x3, w3, t if split else e)
                a[p] = e if split else t
                b[p] = t
                split, do = n[p] != 0, d[p]
                e = fma32(x0, v0, c[p])
                t = fma32(x1, v1, do if split else e)
                e = fma32(x2, v2, e if split else t)
                t = fma32(x3, v3, t if split else e)
                c[p] = e if split else t
                d[p] = t
            ob += 2
        while ob < ob_n:  # a leftover channel, or the last pair of terms: one pair at a time
            o = o0 + ob
            a, b, m = acc[ob], odd[ob], mask[ob]
            for k in range(j, j + (4 if four else 2), 2):
                sa, sb = xf[q0 + taps[k] : q0 + taps[k] + pt], xf[q0 + taps[k + 1] : q0 + taps[k + 1] + pt]
                w0, w1 = wm[k, o], wm[k + 1, o]
                for p in range(pt):
                    split, bo = m[p] != 0, b[p]
                    e = fma32(sa[p], w0, a[p])
                    t = fma32(sb[p], w1, bo if split else e)
                    a[p] = e if split else t
                    b[p] = t
            ob += 1
        j += 4 if four else 2


@njit(cache=True, nogil=True)
def _block(xf, taps, q0, wm, s, e, o0, ob_n, split, uniform, acc, odd, mask, pt, ptaps, pwm, n_even):
    """One K block [s, e) of channels o0..: acc <- its chain(s) (6.8), combined as fl(e + o)
    where split (everywhere in the tile if uniform). The bias is the last term K, its input 1.
    ptaps, pwm: the block's data terms as the even chain's n_even, then the odd chain's (see
    `_split_order`), so a uniform tile runs each chain as a plain sequential one."""
    k = wm.shape[0] - 1
    for ob in range(ob_n):
        for p in range(pt):
            acc[ob, p] = F32(0)
        if split:
            for p in range(pt):
                odd[ob, p] = F32(0)
    j1 = min(e, k)  # data terms; the bias (if in this block) comes after them
    f = s + ((e - s) // 8) * 8  # split outputs interleave terms s..f-1
    if split:
        pairs_end = min(f, j1)
        pairs_end -= (pairs_end - s) % 2
        if uniform:
            _seq_taps(xf, ptaps, q0, pwm, 0, n_even, o0, ob_n, acc, pt)
            _seq_taps(xf, ptaps, q0, pwm, n_even, j1 - s, o0, ob_n, odd, pt)
        else:
            _split_taps(xf, taps, q0, wm, s, pairs_end, o0, ob_n, acc, odd, mask, pt)
            _seq_taps(xf, taps, q0, wm, pairs_end, j1, o0, ob_n, acc, pt)
    else:
        _seq_taps(xf, taps, q0, wm, s, j1, o0, ob_n, acc, pt)
    bias = e > k  # the bias term, on the odd chain only if it is an odd term < f
    bias_odd = split and k < f and (k - s) % 2 == 1
    for ob in range(ob_n):
        wb = wm[k, o0 + ob]
        a, b, m = acc[ob], odd[ob], mask[ob]
        if not split:
            if bias:
                for p in range(pt):
                    a[p] = a[p] + wb
        elif uniform:  # every output two chains: no mask to read
            if bias and bias_odd:
                for p in range(pt):
                    a[p] = a[p] + (b[p] + wb)
            elif bias:
                for p in range(pt):
                    a[p] = (a[p] + wb) + b[p]
            else:
                for p in range(pt):
                    a[p] = a[p] + b[p]
        else:
            if bias:
                for p in range(pt):
                    to_odd = bias_odd and m[p] != 0
                    av, bv = a[p], b[p]
                    a[p] = av if to_odd else av + wb
                    b[p] = bv + wb if to_odd else bv
            for p in range(pt):
                av = a[p]
                a[p] = av + b[p] if m[p] != 0 else av


@njit(cache=True, nogil=True)
def _split_order(taps, wm, s, e, ptaps, pwm):
    """ptaps, pwm <- the data terms of K block [s, e) in the order of its two chains when split
    (6.8): the even chain's, then the odd chain's; returns the even chain's length."""
    k = wm.shape[0] - 1
    j1 = min(e, k)
    pairs_end = min(s + ((e - s) // 8) * 8, j1)
    pairs_end -= (pairs_end - s) % 2
    i = 0
    for j in range(s, pairs_end, 2):  # the even chain: the pairs' even terms,
        i = _take(ptaps, pwm, i, taps, wm, j)
    for j in range(pairs_end, j1):  # then every term after the pairs
        i = _take(ptaps, pwm, i, taps, wm, j)
    n_even = i
    for j in range(s + 1, pairs_end, 2):  # the odd chain: the pairs' odd terms
        i = _take(ptaps, pwm, i, taps, wm, j)
    return n_even


@njit(cache=True, nogil=True)
def _take(ptaps, pwm, i, taps, wm, j):
    """Term j as the i-th of ptaps/pwm; returns i + 1."""
    ptaps[i] = taps[j]
    pwm[i, :] = wm[j, :]
    return i + 1


@njit(cache=True, nogil=True)
def _tile_codes(codes, run_start, run_code, colcode, q0, pt, wn, n, wo):
    """codes[p] <- column class (in its GEMM call) of virtual pixel q0+p, and the runs of one
    class (their starts and classes); returns (the classes present as bits, the number of runs).
    A column is n pixels (its boxes). The unstored columns x >= wo take the class of their row's
    last stored column, so they never break a run."""
    y = q0 // wn
    x = (q0 - y * wn) // n
    cnt = n - (q0 - y * wn - x * n)  # the first column's pixels left in this tile
    w = wn // n
    present, runs, p = 0, 0, 0
    while p < pt:
        code = colcode[y * wo + min(x, wo - 1)]
        cnt = min(cnt, pt - p)
        for i in range(p, p + cnt):
            codes[i] = code
        present |= 1 << code
        if runs == 0 or code != run_code[runs - 1]:
            run_start[runs], run_code[runs] = p, code
            runs += 1
        p += cnt
        cnt = n
        x += 1
        if x == w:
            x = 0
            y += 1
    return present, runs


#: Kinds of segment of a tile for one block of channels.
SEQ, SPLIT_ALL, MASKED = 0, 1, 2


@njit(cache=True, nogil=True)
def _segments(segs, present, run_start, run_code, runs, rowbits, o0, ob_n, pt):
    """Cut pixels 0..pt-1 of a tile (its class runs, the set of classes present), for channels
    o0..o0+ob_n-1, into segments (start, length, kind) in segs; returns their count. Stretches of
    >= UNIFORM_RUN pixels where the channels are all sequential or all split need no per-pixel
    select (SEQ / SPLIT_ALL); the pixels between them form MASKED segments. The tile's class
    (Panels whose kind alternates in runs shorter than that are left to `by_channel`.)"""
    bits = rowbits[o0]
    same = True
    for ob in range(1, ob_n):
        same = same and rowbits[o0 + ob] == bits  # (OpenBLAS's 8-row panels always are)
    segs[0, 0], segs[0, 1] = 0, pt
    if same and bits & present == 0:
        segs[0, 2] = SEQ
        return 1
    if same and bits & present == present:
        segs[0, 2] = SPLIT_ALL
        return 1
    if not same:
        segs[0, 2] = MASKED
        return 1
    count, i, m0, m_runs, m_kind = 0, 0, -1, 0, SEQ
    while i < runs:
        kind = (bits >> run_code[i]) & 1
        j = i + 1
        while j < runs and (bits >> run_code[j]) & 1 == kind:
            j += 1
        p, r = run_start[i], run_start[j] if j < runs else pt
        if r - p >= UNIFORM_RUN or (p == 0 and r == pt):
            if m0 >= 0:
                count = _close_masked(segs, count, m0, p, m_runs, m_kind)
                m0 = -1
            segs[count, 0], segs[count, 1], segs[count, 2] = p, r - p, kind
            count += 1
        else:
            if m0 < 0:
                m0, m_runs = p, 0
            m_runs += 1
            m_kind = kind
        i = j
    if m0 >= 0:
        count = _close_masked(segs, count, m0, pt, m_runs, m_kind)
    return count


@njit(cache=True, nogil=True)
def _close_masked(segs, count, start, end, runs, kind):
    """Append [start, end) as a MASKED segment (or as its kind if it is one run)."""
    segs[count, 0], segs[count, 1] = start, end - start
    segs[count, 2] = kind if runs == 1 else MASKED
    return count + 1


@njit(cache=True, nogil=True)
def _fill_mask(mask, rowbits, codes, start, length, o0, ob_n):
    """mask[ob, p] <- split flag of channel o0+ob at pixel start+p of the tile."""
    for ob in range(ob_n):
        bits = rowbits[o0 + ob]
        m = mask[ob]
        for p in range(length):
            m[p] = (bits >> codes[start + p]) & 1


@njit(cache=True, nogil=True)
def _segment(
    xf, taps, q0, wm, blocks, o0, ob_n, start, length, kind, plus_zero, acc, odd, mask, total, ptaps, pwm, n_even
):
    """Every K block of channels o0.. over pixels q0+start.. (length of them), combined into
    total[:, start:start+length] as the C++ adds its blocks (6.8: from C = +0 on avx2)."""
    split, uniform = kind != SEQ, kind == SPLIT_ALL
    for b in range(blocks.shape[0]):
        s, e = blocks[b, 0], blocks[b, 1]
        if length == PIXEL_TILE:  # a constant trip count for LLVM: ~25 % faster inner loops
            _block(
                xf,
                taps,
                q0 + start,
                wm,
                s,
                e,
                o0,
                ob_n,
                split,
                uniform,
                acc,
                odd,
                mask,
                PIXEL_TILE,
                ptaps[b],
                pwm[b],
                n_even[b],
            )
        else:
            _block(
                xf,
                taps,
                q0 + start,
                wm,
                s,
                e,
                o0,
                ob_n,
                split,
                uniform,
                acc,
                odd,
                mask,
                length,
                ptaps[b],
                pwm[b],
                n_even[b],
            )
        for ob in range(ob_n):
            t, a = total[ob, start : start + length], acc[ob]
            if b > 0:
                for p in range(length):
                    t[p] = t[p] + a[p]
            elif plus_zero:
                for p in range(length):
                    t[p] = F32(0) + a[p]
            else:
                for p in range(length):
                    t[p] = a[p]


@njit(cache=True, nogil=True)
def _split_plan(taps, wm, blocks, colcode, table, by_chan, ho, wo, y0, y1):
    """What the split rule (6.8) needs for output rows y0..y1-1: rowbits (O,) uint8 (bit c: the
    channel is split in column class c), split_classes (the classes any channel not in by_chan
    is split in),
    row_classes (ho,) uint8 (the classes in each row), and each K block's data terms in chain
    order (ptaps (B, K), pwm (B, K, O), n_even (B,), see _split_order). With no split at all
    (avx512) the arrays stay empty."""
    n_out = wm.shape[1]
    rowbits = np.zeros(n_out, np.uint8)
    split_classes = 0
    for o in range(n_out):
        for c in range(table.shape[1]):
            rowbits[o] |= (table[o, c] != 0) << c
        split_classes |= 0 if by_chan[o] else rowbits[o]
    any_split = split_classes != 0
    row_classes = np.zeros(ho, np.uint8)
    for y in range(y0, y1 if any_split else y0):
        for x in range(wo):
            row_classes[y] |= 1 << colcode[y * wo + x]
    n_blocks = blocks.shape[0] if any_split else 1
    ptaps = np.zeros((n_blocks, taps.shape[0] if any_split else 1), np.int64)
    pwm = np.zeros((n_blocks, taps.shape[0] if any_split else 1, n_out), F32)
    n_even = np.zeros(n_blocks, np.int64)
    if any_split:
        for b in range(n_blocks):
            n_even[b] = _split_order(taps, wm, blocks[b, 0], blocks[b, 1], ptaps[b], pwm[b])
    return rowbits, split_classes, row_classes, ptaps, pwm, n_even


@njit(cache=True, nogil=True)
def conv_span(xf, taps, wm, blocks, colcode, table, groups, plus_zero, slope, fuse_prelu, ho, wn, n, wo, out, y0, y1):
    """Output rows y0..y1-1 of a valid stride-1 conv (C++ order, semantics 3.1-3.2, 6.8), then
    PReLU if fuse_prelu.

    xf: the input (C, H, W, N) flattened, followed by >= PIXEL_TILE zeros of slack; taps (K,)
    int64 shift of each im2col term; wm (K+1, O) f32 (bias last); blocks (B, 2) int64 K blocks;
    colcode (Ho*wo,) uint8 column class in a GEMM call, table (O, 4) uint8 split flags;
    groups (G, LANES) int64: channels left out, for `by_channel` (-1: none);
    plus_zero: C = +0 before adding the blocks (6.8); wn = W*N; out (O, ho, wo*N) f32.
    """
    # every array below is borrowed (no reference counting on the tiles' many views); the arrays
    # made here are kept alive to the end
    taps_own, wm_own = taps.copy(), wm.copy()  # writable like the permuted copies: one typing
    taps, wm, xf, out = borrow(taps_own), borrow(wm_own), borrow(xf), borrow(out)
    blocks, colcode, table, slope = borrow(blocks), borrow(colcode), borrow(table), borrow(slope)
    n_out = wm.shape[1]
    acc_own = np.empty((CHANNEL_TILE, PIXEL_TILE), F32)
    odd_own = np.empty((CHANNEL_TILE, PIXEL_TILE), F32)
    total_own = np.empty((CHANNEL_TILE, PIXEL_TILE), F32)
    mask_own = np.zeros((CHANNEL_TILE, PIXEL_TILE), np.uint8)
    acc, odd, total, mask = borrow(acc_own), borrow(odd_own), borrow(total_own), borrow(mask_own)
    segs_own = np.zeros((PIXEL_TILE, 3), np.int64)
    codes_own = np.zeros(PIXEL_TILE, np.uint8)
    run_start_own = np.zeros(PIXEL_TILE, np.int64)
    run_code_own = np.zeros(PIXEL_TILE, np.uint8)
    segs, codes = borrow(segs_own), borrow(codes_own)
    run_start, run_code = borrow(run_start_own), borrow(run_code_own)
    present, runs = 0, 0
    by_chan = np.zeros(n_out, np.bool_)  # channels by_channel computes (the caller runs it)
    for ch in groups.ravel():
        if ch >= 0:
            by_chan[ch] = True
    plan = _split_plan(taps, wm, blocks, colcode, table, by_chan, ho, wo, y0, y1)
    rowbits, split_classes, row_classes = borrow(plan[0]), plan[1], borrow(plan[2])
    ptaps, pwm, n_even = borrow(plan[3]), borrow(plan[4]), borrow(plan[5])
    q_end = (y1 - 1) * wn + wo * n  # past the last stored pixel of row y1-1
    q0 = y0 * wn
    while q0 < q_end:
        pt = min(PIXEL_TILE, q_end - q0)
        classes = 0
        for y in range(q0 // wn, min((q0 + pt - 1) // wn + 1, y1)):
            classes |= row_classes[y]
        mixed = (classes & split_classes) != 0  # else every output of the tile is one chain
        if mixed:
            present, runs = _tile_codes(codes, run_start, run_code, colcode, q0, pt, wn, n, wo)
        for o0 in range(0, n_out, CHANNEL_TILE):
            ob_n = min(CHANNEL_TILE, n_out - o0)
            if by_chan[o0]:
                continue
            nseg, kind = 1, SEQ  # avx512: every output one chain per K block
            if mixed:
                nseg = _segments(segs, present, run_start, run_code, runs, rowbits, o0, ob_n, pt)
                kind = segs[0, 2]
                if kind == MASKED:
                    _fill_mask(mask, rowbits, codes, 0, segs[0, 1], o0, ob_n)
            for g in range(nseg):
                start, length = (segs[g, 0], segs[g, 1]) if mixed else (0, pt)
                if mixed and g > 0:
                    kind = segs[g, 2]
                    if kind == MASKED:
                        _fill_mask(mask, rowbits, codes, start, length, o0, ob_n)
                _segment(
                    xf,
                    taps,
                    q0,
                    wm,
                    blocks,
                    o0,
                    ob_n,
                    start,
                    length,
                    kind,
                    plus_zero,
                    acc,
                    odd,
                    mask,
                    total,
                    ptaps,
                    pwm,
                    n_even,
                )
            _store(total, out, slope, fuse_prelu, q0, pt, o0, ob_n, wn, wo * n)
        q0 += pt
    keep_alive(taps_own, wm_own, acc_own, odd_own, total_own, mask_own, plan)
    keep_alive(segs_own, codes_own, run_start_own, run_code_own)


@njit(cache=True, nogil=True)
def _store(total, out, slope, fuse_prelu, q0, pt, o0, ob_n, wn, width):
    """Copy the stored columns (x < wo) of a tile to out (O, ho, wo*N), with PReLU if fused."""
    q, q1 = q0, q0 + pt
    while q < q1:
        y = q // wn
        c0 = q - y * wn
        if c0 >= width:  # a wrap-around column: skip to the next row
            q = (y + 1) * wn
            continue
        c1 = min(width, c0 + (q1 - q))
        for ob in range(ob_n):
            sl = slope[o0 + ob]
            src = total[ob, q - q0 : q - q0 + (c1 - c0)]
            dst = out[o0 + ob, y, c0:c1]
            if fuse_prelu:
                for i in range(c1 - c0):
                    v = src[i]
                    dst[i] = v if v >= 0 else v * sl
            else:
                for i in range(c1 - c0):
                    dst[i] = src[i]
        q += c1 - c0


# ---- max pooling -------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def maxpool(x, n, ky, kx, sy, sx, out):
    """C++ max pooling (semantics 3.4): the largest non-NaN value of window rows [i*sy, i*sy+ky)
    x columns [j*sx, j*sx+kx) cut at the edge, at least -FLT_MAX (the C++ starts there and takes
    a value on a strict '>'). Separable: over the window's rows, then its columns.
    x (C, H, W*n) f32 with n boxes innermost, out (C, oh, ow*n) f32."""
    ch, h, wn = x.shape
    oh, ow = out.shape[1], out.shape[2] // n
    w = wn // n
    lowest = -np.finfo(np.float32).max
    rows = np.empty(wn, F32)
    for c in range(ch):
        for i in range(oh):
            for q in range(wn):
                rows[q] = lowest
            for r in range(i * sy, min(i * sy + ky, h)):
                src = x[c, r]
                for q in range(wn):
                    v = src[q]
                    rows[q] = v if v > rows[q] else rows[q]
            dst = out[c, i]
            for q in range(ow * n):
                dst[q] = lowest
            for dx in range(kx):
                # output columns j whose window reaches column j*sx + dx < w
                j_end = min(ow, (w - dx + sx - 1) // sx) if w > dx else 0
                if n == 1:
                    for j in range(j_end):
                        v = rows[j * sx + dx]
                        dst[j] = v if v > dst[j] else dst[j]
                else:
                    for j in range(j_end):
                        src_j = rows[(j * sx + dx) * n : (j * sx + dx + 1) * n]
                        dst_j = dst[j * n : (j + 1) * n]
                        for b in range(n):
                            v = src_j[b]
                            dst_j[b] = v if v > dst_j[b] else dst_j[b]
    return out


# ---- NMS ---------------------------------------------------------------------------------------
@njit(cache=True, nogil=True, error_model="numpy")
def nms_greedy(rects, thr, min_mode, by):
    """The C++'s greedy NMS over rects (n, 4) int64 (x, y, w, h) already in visiting order
    (semantics 4.5): the overlaps of boxes.overlaps in float32 (IoU, or over the smaller area if
    min_mode; 0/0 is NaN, never > thr). by (n,) int64 <- the position that suppressed each box
    (-1 for kept); returns the kept positions in order. error_model numpy: x/0 is inf, as numpy."""
    n = rects.shape[0]
    alive = np.ones(n, np.bool_)
    kept = np.empty(n, np.int64)
    count = 0
    for i in range(n):
        if not alive[i]:
            continue
        kept[count] = i
        count += 1
        x, y, w, h = rects[i, 0], rects[i, 1], rects[i, 2], rects[i, 3]
        for j in range(i + 1, n):
            if not alive[j]:
                continue
            u, v, ww, hh = rects[j, 0], rects[j, 1], rects[j, 2], rects[j, 3]
            iw = min(x + w, u + ww) - max(x, u)
            ih = min(y + h, v + hh) - max(y, v)
            empty = w <= 0 or h <= 0 or ww <= 0 or hh <= 0 or iw <= 0 or ih <= 0
            inter = F32(0) if empty else F32(iw * ih)
            if min_mode:
                overlap = inter / F32(min(w * h, ww * hh))
            else:
                overlap = inter / (F32(w * h + ww * hh) - inter)
            if overlap > thr:
                alive[j] = False
                by[j] = i
    return kept[:count]


# ---- element-wise ------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def fma_scalar_into(a, b, c, out):
    """out <- fma32(a, b, c) element-wise with a single rounding: a, b, out (n,) float32, c a
    float32 (cv::exp's polynomial steps, semantics 6.3)."""
    for i in range(out.shape[0]):
        out[i] = fma32(a[i], b[i], c)
    return out


# ---- pyramid levels ----------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def resize_planes(image, sx, wx0, wx1, edge, r0, r1, wy0, wy1, out):
    """cv::resize INTER_LINEAR of a uint8 BGR image to the networks' input (semantics 6.4, 2.6):
    the float32 operations of images._bilinear_planes in its order, horizontal then vertical, then
    (v - 127.5) * 2^-7. image (H, W, 3) uint8; per output column sx (width,) int64 left source
    column, wx0/wx1 (width,) f32 its weights (1 - fx, fx), edge (width,) bool: copy column W-1;
    per output row r0, r1 (height,) int64 source rows, wy0/wy1 (height,) f32; out (3, height,
    width) f32 R, G, B planes."""
    w = image.shape[1]
    height, width = out.shape[1], out.shape[2]
    rows = np.empty((2, width), F32)  # the horizontal pass of two source rows
    for c in range(3):
        held = np.full(2, -1, np.int64)  # the source row whose pass each of `rows` holds
        for y in range(height):
            t = 0 if held[0] == r0[y] else 1
            if held[t] != r0[y]:  # not held: into the slot that does not hold r1 (the next r0)
                t = 1 if held[0] == r1[y] else 0
                _resize_row(image, r0[y], 2 - c, sx, wx0, wx1, edge, w, rows[t])
                held[t] = r0[y]
            if held[1 - t] != r1[y]:
                _resize_row(image, r1[y], 2 - c, sx, wx0, wx1, edge, w, rows[1 - t])
                held[1 - t] = r1[y]
            top, bottom = rows[t], rows[1 - t]
            a, b, dst = wy0[y], wy1[y], out[c, y]
            for x in range(width):
                v = top[x] * a + bottom[x] * b
                dst[x] = (v - F32(127.5)) * F32(0.0078125)
    return out


@njit(cache=True, nogil=True)
def _resize_row(image, r, ch, sx, wx0, wx1, edge, w, dst):
    """dst <- the horizontal pass of source row r, channel ch."""
    src = image[r]
    for x in range(dst.shape[0]):
        i = sx[x]
        v = F32(src[i, ch]) * wx0[x] + F32(src[min(i + 1, w - 1), ch]) * wx1[x]
        dst[x] = F32(src[w - 1, ch]) if edge[x] else v


# ---- RNet/ONet crops ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def crop_bilinear(image, x0, y0, c0, c1, wx, r0, r1, wy, out):
    """Bilinear crops gathered straight from the image, normalised, planar (semantics 4.9, 6.4,
    2.6): the float32 operations of boxes.crop_batch in its order. image (H, W, 3) uint8 BGR;
    x0, y0 (n,) int64 image position of each crop buffer's origin; c0, c1, wx (size, n) column
    taps and weights, r0, r1, wy (size, n) row taps; pixels outside the image read 0.
    out (3, size, size, n) float32 R, G, B."""
    h, w = image.shape[0], image.shape[1]
    size, n = c0.shape
    one = F32(1)
    for i in range(n):
        for yy in range(size):
            ya, yb, fy = y0[i] + r0[yy, i], y0[i] + r1[yy, i], wy[yy, i]
            for xx in range(size):
                xa, xb, fx = x0[i] + c0[xx, i], x0[i] + c1[xx, i], wx[xx, i]
                for ch in range(3):
                    p00 = F32(image[ya, xa, ch]) if 0 <= ya < h and 0 <= xa < w else F32(0)
                    p01 = F32(image[ya, xb, ch]) if 0 <= ya < h and 0 <= xb < w else F32(0)
                    p10 = F32(image[yb, xa, ch]) if 0 <= yb < h and 0 <= xa < w else F32(0)
                    p11 = F32(image[yb, xb, ch]) if 0 <= yb < h and 0 <= xb < w else F32(0)
                    top = p00 * (one - fx) + p01 * fx
                    bottom = p10 * (one - fx) + p11 * fx
                    v = top * (one - fy) + bottom * fy
                    out[2 - ch, yy, xx, i] = (v - F32(127.5)) * F32(0.0078125)


# ---- fully connected ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def chains(xf, taps, wm, out):
    """out[r, p] <- the FMA chain from +0 over terms j of xf[taps[j] + p] * wm[j, r].

    fc1's chains (its lanes or K blocks, semantics 3.6, 6.8), vectorised over p: either the
    outputs (xf: the weights as rows of O per term k, taps = k * O, wm (L, N) the boxes' inputs,
    out (N, O)) or the boxes (xf: the inputs as rows of N per term, taps = k * N, wm (L, O) the
    weights, out (O, N)). xf carries >= PIXEL_TILE of slack after its data.
    """
    n_out, width = out.shape
    acc_own = np.empty((CHANNEL_TILE, PIXEL_TILE), F32)
    xf, taps, wm, out, acc = borrow(xf), borrow(taps), borrow(wm), borrow(out), borrow(acc_own)
    for q0 in range(0, width, PIXEL_TILE):
        pt = min(PIXEL_TILE, width - q0)
        for o0 in range(0, n_out, CHANNEL_TILE):
            ob_n = min(CHANNEL_TILE, n_out - o0)
            for ob in range(ob_n):
                for p in range(pt):
                    acc[ob, p] = F32(0)
            _seq_taps(xf, taps, q0, wm, 0, taps.shape[0], o0, ob_n, acc, pt)
            for ob in range(ob_n):
                for p in range(pt):
                    out[o0 + ob, q0 + p] = acc[ob, p]
    keep_alive(acc_own)


@njit(cache=True, nogil=True)
def fc_double_seq(cols, w, bias, bias_in_double, out):
    """cv::gemm's native path (3.5a/3.5c): each output a sequential double sum over k (float
    products are exact in double), then float32. cols (K, P) f32: one column per pixel or box;
    w (O, K), bias (O,), out (O, P). bias_in_double adds the bias before the rounding."""
    acc = np.empty(cols.shape[1], F64)
    for o in range(w.shape[0]):
        for p in range(cols.shape[1]):
            acc[p] = 0.0
        for k in range(cols.shape[0]):
            wv = F64(w[o, k])
            for p in range(cols.shape[1]):
                acc[p] = acc[p] + F64(cols[k, p]) * wv
        b = bias[o]
        for p in range(cols.shape[1]):
            if bias_in_double:
                out[o, p] = F32(acc[p] + F64(b))
            else:
                out[o, p] = F32(acc[p]) + b
