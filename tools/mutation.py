"""Mutation testing of mtcnn_core over a curated list of plausible port bugs.

Each mutant replaces one exact snippet of one file with a wrong variant (a rule from
docs/semantics.md a port gets wrong: `>=` -> `>`, trunc vs floor, rne vs trunc, float64 where
the C++ has float32, ...). The runner copies the repository's tracked files to a temporary folder
(the working tree is never touched), then for each mutant applies it to the copy, runs the
mutant's test selection with `pytest -x -q` under a timeout, and restores the file. A mutant is
*killed* when the tests fail (or time out), *survived* when they pass. Prints the kill rate and
the survivors, each with its one-line description.

    python tools/mutation.py                      # all mutants against the current tests
    python tools/mutation.py --tests-from main    # the same mutants against another revision's tests
    python tools/mutation.py -k nms -k compare    # only mutants whose id contains a word
    python tools/mutation.py --list               # the mutants, without running anything

The copy has no shared reference folder beside it unless --shared PATH is given, so parity runs on the traces
bundled in sample_images/ (fast). Tests that already fail on the unmutated copy are deselected
(and listed) so they cannot count as kills.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Test selections, fastest and most targeted first (pytest -x stops at the first failure). Parity
# runs the default engine on the bundled C++ traces of both builds; entries may be node ids.
PARITY = [
    "tests/test_parity.py::test_default_engine_bit_identical_to_the_avx512_build",
    "tests/test_parity.py::test_avx2_build_bit_identical_to_the_haswell_cpp",
]
CORE = ["tests/test_boundaries.py", "tests/test_layers.py", *PARITY]
BOXES = ["tests/test_boundaries.py", "tests/test_layers.py", "tests/test_batching.py", *PARITY]
COMPARE = ["tests/test_compare.py", "tests/test_cli.py", "tests/test_parity.py"]
DAT = ["tests/test_dat_errors.py", "tests/test_models.py"]
KERNELS = [
    "tests/test_layers.py",
    "tests/test_kernels.py",
    "tests/test_parity.py::test_numpy_reference_engine_gives_the_same_bits",
    *PARITY,
]
TRACE = ["tests/test_trace.py", *PARITY]


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    old: str
    new: str
    why: str
    tests: tuple = tuple(CORE)


def m(id, file, old, new, why, tests=CORE):
    return Mutant(id, "mtcnn_core/" + file, old, new, why, tuple(tests))


MUTANTS = [
    # ---- pyramid and probabilities (semantics 2, 4.1, 4.10) ---------------------------------------
    m(
        "pyramid.num_scales_off_by_one",
        "scales.py",
        "/ math.log(factor)) + 1",
        "/ math.log(factor))",
        "one pyramid level too few (num_scales without the +1)",
    ),
    m(
        "pyramid.scale_float32",
        "scales.py",
        "s = (12.0 / min_face_size) * math.pow(factor, i)",
        "s = float(__import__('numpy').float32(12.0 / min_face_size) "
        "* __import__('numpy').float32(math.pow(factor, i)))",
        "pyramid scale computed in float32 instead of double",
    ),
    m(
        "pyramid.trunc_height",
        "scales.py",
        "math.ceil(height * s), math.ceil(width * s)",
        "int(height * s), math.ceil(width * s)",
        "level height truncated instead of ceil",
    ),
    m(
        "pnet.np_exp",
        "cascade.py",
        "e = cv_exp32((out[0] - out[1]).astype(F32))",
        "e = np.exp((out[0] - out[1]).astype(F32))",
        "np.exp instead of OpenCV's cv::exp for the heatmap",
    ),
    m(
        "prob.float32_division",
        "cascade.py",
        "return (1.0 / (1.0 + e.astype(F64))).astype(F32)",
        "return (F32(1) / (F32(1) + e)).astype(F32)",
        "RNet/ONet probability division in float32",
    ),
    m(
        "prob.np_exp",
        "cascade.py",
        "e = glibc_expf((out[:, 0] - out[:, 1]).astype(F32))",
        "e = np.exp((out[:, 0] - out[:, 1]).astype(F32))",
        "numpy's expf instead of glibc's for RNet/ONet",
    ),
    # ---- thresholds and cascade order (4.2-4.11) -------------------------------------------------
    m(
        "t1.strict",
        "boxes.py",
        "np.nonzero(prob.T >= F32(t1))",
        "np.nonzero(prob.T > F32(t1))",
        "PNet cell kept on prob > t1 instead of >=",
    ),
    m(
        "t1.double",
        "boxes.py",
        "np.nonzero(prob.T >= F32(t1))",
        "np.nonzero(prob.T >= np.float64(t1))",
        "PNet threshold compared in double instead of f32(t1)",
    ),
    m(
        "t2.strict",
        "cascade.py",
        "passed = np.flatnonzero(scores >= F32(threshold))\n    order, sup",
        "passed = np.flatnonzero(scores > F32(threshold))\n    order, sup",
        "RNet/ONet kept on score > t instead of >=",
    ),
    m(
        "t3.strict",
        "cascade.py",
        "passed = np.flatnonzero(scores >= F32(threshold))\n    corrected_all",
        "passed = np.flatnonzero(scores > F32(threshold))\n    corrected_all",
        "ONet boxes corrected only for score > t3",
    ),
    m(
        "generate.row_major",
        "boxes.py",
        "cols, rows = np.nonzero(prob.T >= F32(t1))",
        "rows, cols = np.nonzero(prob >= F32(t1))",
        "proposals in row-major order (y outer), other NMS ties",
    ),
    m(
        "generate.double_scale",
        "boxes.py",
        "sc = F32(scale)",
        "sc = np.float64(scale)",
        "box generation divides by a double scale",
    ),
    m(
        "generate.start_off_by_one",
        "boxes.py",
        "np.trunc((index * STRIDE + 1).astype(F32) / sc)",
        "np.trunc((index * STRIDE).astype(F32) / sc)",
        "cell start 2x instead of 2x+1",
    ),
    m(
        "generate.end_off_by_one",
        "boxes.py",
        "np.trunc((index * STRIDE + CELL).astype(F32) / sc)",
        "np.trunc((index * STRIDE + CELL - 1).astype(F32) / sc)",
        "cell end 2x+11 instead of 2x+12",
    ),
    m(
        "cascade.pnet_add1",
        "cascade.py",
        "B.apply_correction(merged.boxes, merged.corrections, add1=False)",
        "B.apply_correction(merged.boxes, merged.corrections, add1=True)",
        "+1 in the PNet correction",
    ),
    m(
        "cascade.onet_no_add1",
        "cascade.py",
        "B.apply_correction(inp.boxes[passed], corr[passed], add1=True)",
        "B.apply_correction(inp.boxes[passed], corr[passed], add1=False)",
        "ONet correction without +1",
    ),
    m(
        "cascade.onet_iou",
        "cascade.py",
        'NMS_ONET, "min", arith',
        'NMS_ONET, "iou", arith',
        "ONet NMS by IoU instead of intersection over the smaller area",
    ),
    m(
        "cascade.scale_nms_thr",
        "cascade.py",
        "NMS_SCALE, NMS_MERGE, NMS_RNET, NMS_ONET = 0.5, 0.7, 0.7, 0.7",
        "NMS_SCALE, NMS_MERGE, NMS_RNET, NMS_ONET = 0.7, 0.7, 0.7, 0.7",
        "per-scale NMS at 0.7 instead of 0.5",
    ),
    m(
        "cascade.no_final_fix",
        "cascade.py",
        "dets = BoxSet(B.final_fix(onet.kept.boxes)",
        "dets = BoxSet(onet.kept.boxes.copy()",
        "landmark-tightening final fix missing",
    ),
    # ---- NMS (4.5) ---------------------------------------------------------------------------------
    m(
        "nms.trunc_rects",
        "boxes.py",
        "np.rint(boxes.astype(F64)).astype(np.int64)",
        "np.trunc(boxes.astype(F64)).astype(np.int64)",
        "trunc instead of rne in the NMS rect conversion",
    ),
    m(
        "nms.half_away_rects",
        "boxes.py",
        "np.rint(boxes.astype(F64)).astype(np.int64)",
        "np.floor(boxes.astype(F64) + 0.5).astype(np.int64)",
        "halves rounded up instead of to even",
    ),
    m(
        "nms.strict_ge",
        "boxes.py",
        "hits = overlaps(rects[rows], rects[cols], mode) > thr",
        "hits = overlaps(rects[rows], rects[cols], mode) >= thr",
        "box suppressed at overlap == thr",
    ),
    m(
        "nms.ties_low_index",
        "boxes.py",
        "np.lexsort((np.arange(n), scores))[::-1]",
        "np.lexsort((-np.arange(n), scores))[::-1]",
        "NMS ties broken lower-index-first",
    ),
    m(
        "nms.iou_double",
        "boxes.py",
        "return inter / ((a1 + a2).astype(F32) - inter)",
        "return inter.astype(F64) / ((a1 + a2) - inter.astype(F64))",
        "IoU in float64",
    ),
    m(
        "nms.min_is_max",
        "boxes.py",
        "return inter / np.minimum(a1, a2).astype(F32)",
        "return inter / np.maximum(a1, a2).astype(F32)",
        "min-NMS over the larger area",
    ),
    m(
        "nms.nan_suppresses",
        "boxes.py",
        "hits = overlaps(rects[rows], rects[cols], mode) > thr",
        "hits = ~(overlaps(rects[rows], rects[cols], mode) <= thr)",
        "a 0/0 (NaN) overlap suppresses",
    ),
    # ---- correction, rectify, crops, final fix (4.6-4.12) ------------------------------------------
    m(
        "correct.no_add1_h",
        "boxes.py",
        "r[:, 2] + add1, r[:, 3] + add1",
        "r[:, 2] + add1, r[:, 3]",
        "add1 forgotten on the height",
    ),
    m(
        "correct.float_boxes",
        "boxes.py",
        "r = to_int_rects(boxes)",
        "r = boxes.astype(F64)",
        "correction on the float box instead of the rne-rounded rect",
    ),
    m(
        "rectify.floor",
        "boxes.py",
        "np.trunc(np.stack([nx, ny, m, m], axis=1))",
        "np.floor(np.stack([nx, ny, m, m], axis=1))",
        "rectify floors instead of truncating",
    ),
    m(
        "rectify.wrong_axis",
        "boxes.py",
        "nx = (x.astype(F64) + 0.5 * (w - m).astype(F64))",
        "nx = (x.astype(F64) + 0.5 * (h - m).astype(F64))",
        "rectify centres x on the height",
    ),
    m(
        "rectify.negative_zero",
        "boxes.py",
        "axis=1)) + F32(0)).astype(F32)",
        "axis=1))).astype(F32)",
        "rectify keeps -0.0 where the C++ int gives +0",
    ),
    m(
        "final_fix.float32",
        "boxes.py",
        "(boxes[:, i].astype(F64) for i in range(4))",
        "(boxes[:, i] for i in range(4))",
        "final fix computed in float32",
    ),
    m("final_fix.refit", "boxes.py", "h * 0.2459 + y", "h * 0.2239 + y", "pyfaceau's refitted final-fix coefficient"),
    m(
        "crop.no_plus1",
        "boxes.py",
        "cw, ch = b[:, 2] + 1, b[:, 3] + 1",
        "cw, ch = b[:, 2], b[:, 3]",
        "crop buffer w x h instead of (w+1) x (h+1)",
        BOXES,
    ),
    m(
        "crop.start_at_y",
        "boxes.py",
        "(r + b[:, 1:2] - 1)",
        "(r + b[:, 1:2])",
        "crop rows start at y instead of y-1",
        BOXES,
    ),
    m(
        "crop.src_over_dst",
        "boxes.py",
        "s = 1.0 / (size / length.astype(F64))",
        "s = length.astype(F64) / size",
        "crop resize scale as src/dst instead of 1/(dst/src)",
        BOXES,
    ),
    # ---- image resize and input (2.6, 6.4) --------------------------------------------------------
    m(
        "resize.src_over_dst",
        "images.py",
        "scale = 1.0 / (dst / src)",
        "scale = src / dst",
        "pyramid resize scale as src/dst instead of 1/(dst/src)",
    ),
    m(
        "input.bgr",
        "images.py",
        "np.subtract(img[..., 2 - c]",
        "np.subtract(img[..., c]",
        "crops fed as BGR instead of [R, G, B]",
    ),
    # ---- layers (3.1-3.6, 6.5, 6.8) --------------------------------------------------------------
    m(
        "pool.floor_size",
        "layers.py",
        "np.floor(abs(q) + 0.5)",
        "np.floor(abs(q))",
        "pool output size floor((n-k)/s)+1 instead of the C++ round rule",
    ),
    m(
        "prelu.signed_zero",
        "layers.py",
        "    if (x == 0).any():\n",
        "    if False:\n",
        "PReLU's max/min path returns the wrong zero sign",
    ),
    m(
        "fc1.flatten_order",
        "layers.py",
        "cols = x.transpose(0, 2, 1, 3).reshape(-1, x.shape[3])",
        "cols = x.reshape(-1, x.shape[3])",
        "fc1 flattens maps row-major instead of transposed",
    ),
    m(
        "fc.kind_threshold",
        "layers.py",
        "if o >= 100:",
        "if o >= 200:",
        "RNet fc1 (128 outputs) with cv::gemm's double sums instead of OpenBLAS",
    ),
    m(
        "fc.bias_rounding",
        "layers.py",
        'return "fc_seq_bias_float" if per_pixel else "fc_seq_bias_double"',
        'return "fc_seq_bias_double" if per_pixel else "fc_seq_bias_float"',
        "bias of the small FCs added in the wrong precision",
    ),
    m("exp.no_fma", "cvmath.py", "p = _fma_step(p, f, a)", "p = p * f + a", "cv::exp polynomial without FMA"),
    m(
        "exp.compiled_two_roundings",
        "kernels/compiled.py",
        "out[i] = fma32(a[i], b[i], c)",
        "out[i] = a[i] * b[i] + c",
        "cv::exp's compiled polynomial step rounds twice",
    ),
    m(
        "exp.floor",
        "cvmath.py",
        "n = np.rint(t).astype(np.int32)",
        "n = np.floor(t).astype(np.int32)",
        "cv::exp rounds t down instead of to nearest",
    ),
    m(
        "fma.midpoint_fix",
        "kernels/reference.py",
        "    if bits.min() == _INT64_MIN:\n",
        "    if False:\n",
        "double rounding at float32 midpoints not corrected",
        KERNELS,
    ),
    m(
        "fc1.sequential_lanes",
        "kernels/reference.py",
        "return _pairwise_lanes(acc) + bias",
        "return acc.sum(axis=-1, dtype=F32) + bias",
        "fc1's 16 lanes summed in numpy's order",
        KERNELS,
    ),
    m(
        "avx2.negative_zero",
        "kernels/reference.py",
        'total = acc + F32(0) if build == "avx2" else acc',
        "total = acc",
        "avx2 blocks not started from C = +0 (keeps -0)",
        KERNELS,
    ),
    m(
        "kblock.no_split",
        "kernels/openblas.py",
        "elif rem > GEMM_Q:",
        "elif rem > 2 * GEMM_Q:",
        "577-term block not split in two",
        KERNELS,
    ),
    m("kblock.q256", "kernels/openblas.py", "GEMM_Q = 320", "GEMM_Q = 256", "wrong K block size", KERNELS),
    m(
        "columns.tail4_narrow",
        "kernels/openblas.py",
        "chunk[wide + fours :] = WIDTH4 if rest - fours == 4 else NARROW",
        "chunk[wide + fours :] = NARROW",
        "a 4-column tail call treated as narrow",
        KERNELS,
    ),
    m(
        "split.wide_left_parity",
        "kernels/openblas.py",
        "(last_panel & (panels % 2 == 0))",
        "(last_panel & (panels % 2 == 1))",
        "wrong split rule for the left half of width-12 calls",
        KERNELS,
    ),
    m(
        "split.m16",
        "kernels/openblas.py",
        "if m >= 16:",
        "if m >= 8:",
        "width-12 calls of < 16 channels split",
        KERNELS,
    ),
    m(
        "compiled.split_order_odd",
        "kernels/compiled.py",
        "for j in range(s + 1, pairs_end, 2):",
        "for j in range(s + 1, pairs_end - 2, 2):",
        "a uniformly split tile's odd chain loses its last pair's term",
        KERNELS,
    ),
    m(
        "compiled.masked_stretch_kind",
        "kernels/compiled.py",
        "segs[count, 2] = kind if runs == 1 else MASKED",
        "segs[count, 2] = kind",
        "a stretch of several short class runs taken as uniform",
        KERNELS,
    ),
    m(
        "compiled.nms_ties_suppress",
        "kernels/compiled.py",
        "            if overlap > thr:",
        "            if overlap >= thr:",
        "the compiled NMS drops a box whose overlap equals the threshold",
        KERNELS,
    ),
    m(
        "compiled.resize_stale_row",
        "kernels/compiled.py",
        "            if held[1 - t] != r1[y]:",
        "            if held[1 - t] < 0:",
        "a pyramid level's lower source row taken from an earlier output row",
        KERNELS,
    ),
    m(
        "by_channel.bias_chain",
        "kernels/by_channel.py",
        "if split and k < f and (k - s) % 2 == 1:",
        "if False:",
        "an alternating panel's bias always on the even chain",
        KERNELS,
    ),
    m(
        "by_channel.group_classes",
        "kernels/by_channel.py",
        "by_classes.setdefault(rows[0].tobytes(), [])",
        "by_classes.setdefault(b'', [])",
        "alternating panels grouped whatever half of a call they split in",
        KERNELS,
    ),
    m(
        "columns.gemm_r",
        "kernels/openblas.py",
        "GEMM_R = 104512",
        "GEMM_R = 25872",
        "numpy's OpenBLAS chunk width instead of Debian's",
        KERNELS,
    ),
    # ---- .dat parsing (1.2-1.3) ------------------------------------------------------------------
    m(
        "dat.negative_size",
        "dat_format.py",
        "if rows < 0 or cols < 0:",
        "if False:",
        "negative matrix size not refused (raw ValueError)",
        DAT,
    ),
    m("dat.zero_count", "dat_format.py", "if n <= 0:", "if n < 0:", "zero layer/channel count accepted", DAT),
    m(
        "dat.count_payload",
        "dat_format.py",
        "if n * unit_bytes > self.remaining():",
        "if False:",
        "count not checked against the bytes left",
        DAT,
    ),
    m(
        "dat.kernel_orientation",
        "dat_format.py",
        'recs["v"].reshape(n_in, n_out, kh, kw).transpose(1, 0, 2, 3)',
        'recs["v"].reshape(n_out, n_in, kh, kw)',
        "conv kernels read as [out][in] (pitfall 1)",
        DAT + CORE,
    ),
    m(
        "dat.trailing_garbage",
        "dat_format.py",
        "    if cur.remaining():\n",
        "    if False:\n",
        "trailing bytes after the last layer accepted",
        DAT,
    ),
    m(
        "dat.zero_stride",
        "dat_format.py",
        "if min(kx, ky, sx, sy) <= 0:",
        "if min(kx, ky, sx, sy) < 0:",
        "zero pool kernel or stride accepted",
        DAT,
    ),
    m(
        "dat.matrix_type",
        "dat_format.py",
        "if mtype != CV_32F:",
        "if False:",
        "matrix type other than CV_32F accepted",
        DAT,
    ),
    m(
        "dat.empty_vector",
        "dat_format.py",
        "    if mat.size == 0:\n",
        "    if False:\n",
        "empty bias / slope vector accepted",
        DAT,
    ),
    # ---- compare (what the app and CLI report) ------------------------------------------------------
    m(
        "compare.skip_first_stage",
        "compare.py",
        "return next((s.name for s in self.stages if not s.within_tolerance), None)",
        "return next((s.name for s in self.stages[1:] if not s.within_tolerance), None)",
        "first_divergent skips the first stage",
        COMPARE,
    ),
    m(
        "compare.divergent_bits",
        "compare.py",
        "return next((s.name for s in self.stages if not s.within_tolerance), None)",
        "return next((s.name for s in self.stages if not s.bit_identical), None)",
        "first_divergent uses bit identity instead of tolerance",
        COMPARE,
    ),
    m(
        "compare.not_identical_tol",
        "compare.py",
        "return next((s.name for s in self.stages if not s.bit_identical), None)",
        "return next((s.name for s in self.stages if not s.within_tolerance), None)",
        "first_not_identical uses tolerance instead of bit identity",
        COMPARE,
    ),
    m(
        "compare.strict_tol_px",
        "compare.py",
        "max(r.max_dxy, r.max_dwh) <= tol_px",
        "max(r.max_dxy, r.max_dwh) < tol_px",
        "a delta exactly at tol_px counts as divergent",
        COMPARE,
    ),
    m(
        "compare.values_ignore_inputs",
        "compare.py",
        "r.within_tolerance = inputs.within_tolerance and r.max_dscore <= tol",
        "r.within_tolerance = r.max_dscore <= tol",
        "net scores judged without their input boxes",
        COMPARE,
    ),
    m(
        "compare.heatmap_tolerance",
        "compare.py",
        "st.within_tolerance &= heat[a.index] <= tol_score",
        "pass",
        "heatmap differences beyond tolerance not divergent",
        COMPARE,
    ),
    m(
        "compare.num_above_t1",
        "compare.py",
        "if a.num_above_t1 != b.num_above_t1:",
        "if False:",
        "different cell counts >= t1 not reported",
        COMPARE,
    ),
    m(
        "compare.bits_by_value",
        "compare.py",
        "np.array_equal(a.view(np.uint32), b.view(np.uint32))",
        "np.array_equal(a, b)",
        "bit identity by value (-0 == +0)",
        COMPARE,
    ),
    m(
        "compare.scale_tolerance",
        "compare.py",
        "float(a.scale) == float(b.scale) for a, b in zip(rs, cs)",
        "abs(float(a.scale) - float(b.scale)) < 1e-3 for a, b in zip(rs, cs)",
        "pyramid scales compared with a tolerance",
        COMPARE,
    ),
    # ---- trace writer -----------------------------------------------------------------------------
    m(
        "trace.lossy_writer",
        "trace.py",
        "return a.astype(str).astype(np.float64).tolist()",
        "return np.vectorize(lambda v: float(f'{v:.6g}'))(a.astype(np.float64)).tolist()",
        "trace floats written with 6 significant digits",
        TRACE,
    ),
]

#: Survivors examined and found equivalent (no input the detector meets tells them apart), with why.
EQUIVALENT = {
    "crop.src_over_dst": "1/(dst/src) and src/dst differ by at most one double ulp; on every crop "
    "side 2..4000 -> 24/48 the float32 tap positions are identical",
    "resize.src_over_dst": "the same for pyramid levels: no float32 tap differs on 60k random "
    "(dst, src) pairs, 15k of them with a different double scale",
    "avx2.negative_zero": "the numpy reference's chains start at +0 and exact zero sums round to +0, "
    "so a block sum is never -0 and '+ 0' changes no bit",
}


def copy_repo(dest: Path, tests_from: str | None) -> None:
    """Tracked (and modified) files of the working tree -> dest; optionally tests/ of a revision."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for rel in filter(None, (f.decode() for f in files)):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    if tests_from:
        shutil.rmtree(dest / "tests")
        tar = subprocess.run(["git", "archive", tests_from, "tests"], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=tar, check=True)


def pytest_cmd(tests, deselect=(), extra=()):
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        "--timeout=600",
        *extra,
        *tests,
    ]
    for node in deselect:
        cmd += ["--deselect", node]
    return cmd


def run_tests(repo: Path, tests, deselect, timeout, extra=("-x",)):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("CI", None)
    try:
        p = subprocess.run(
            pytest_cmd(tests, deselect, extra), cwd=repo, env=env, capture_output=True, text=True, timeout=timeout
        )
        return p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired:
        return "timeout", ""


def failing_nodes(output: str) -> list:
    return sorted({m.group(2) for m in re.finditer(r"^(FAILED|ERROR) (\S+)", output, re.M)})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-k", action="append", default=[], help="only mutants whose id contains this")
    ap.add_argument("--tests-from", help="git revision whose tests/ to run (e.g. main)")
    ap.add_argument("--shared", help="a shared reference folder to place beside the copy (slower, more cases)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per mutant (default 600)")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = ap.parse_args(argv)
    mutants = [mu for mu in MUTANTS if not args.k or any(k in mu.id for k in args.k)]
    if args.list:
        for mu in mutants:
            print(f"{mu.id:<30} {mu.file:<32} {mu.why}")
        print(f"{len(mutants)} mutants")
        return 0
    for mu in mutants:  # a mutant whose snippet no longer matches exactly once is a stale list
        n = (ROOT / mu.file).read_text().count(mu.old)
        if n != 1:
            print(f"stale mutant {mu.id}: snippet found {n} times in {mu.file}", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="mtcnn-mutation-") as tmp:
        repo = Path(tmp) / "main"
        copy_repo(repo, args.tests_from)
        if args.shared:
            os.symlink(Path(args.shared).resolve(), Path(tmp) / "shared")

        def selection(mu):
            present = [t for t in mu.tests if (repo / t.split("::")[0]).is_file()]
            return present or [t for t in CORE if (repo / t.split("::")[0]).is_file()]

        every = sorted({t.split("::")[0] for mu in mutants for t in selection(mu)})
        t0 = time.perf_counter()
        rc, out = run_tests(repo, every, (), args.timeout * 3, extra=())
        deselect = failing_nodes(out) if rc != 0 else []
        if rc not in (0, 1):
            print(f"baseline run failed ({rc}):\n{out[-3000:]}", file=sys.stderr)
            return 2
        print(
            f"baseline: {len(every)} test files, {time.perf_counter() - t0:.0f} s"
            + (f"; deselected (fail unmutated): {', '.join(deselect)}" if deselect else ""),
            flush=True,
        )
        killed, survived = [], []
        for i, mu in enumerate(mutants, 1):
            path = repo / mu.file
            original = path.read_text()
            path.write_text(original.replace(mu.old, mu.new, 1))
            t0 = time.perf_counter()
            try:
                rc, out = run_tests(repo, selection(mu), deselect, args.timeout)
            finally:
                path.write_text(original)
            verdict = "survived" if rc == 0 else "killed" if rc in (1, 2, "timeout") else f"error {rc}"
            (survived if rc == 0 else killed).append(mu)
            print(
                f"[{i:>2}/{len(mutants)}] {verdict:<9} {time.perf_counter() - t0:5.0f} s  {mu.id}"
                + (f" (rc {rc})" if rc not in (0, 1) else ""),
                flush=True,
            )
    n = len(mutants)
    print(f"\nkilled {len(killed)} of {n} mutants: {100 * len(killed) / max(n, 1):.1f} %")
    for mu in survived:
        print(f"  survived: {mu.id:<30} {mu.file:<32} {mu.why}")
        if mu.id in EQUIVALENT:
            print(f"            equivalent: {EQUIVALENT[mu.id]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
