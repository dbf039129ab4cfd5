"""`FaceDetectorMTCNN::DetectFaces` step by step (semantics 2 and 4), recording a full Trace."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import as_completed
from dataclasses import replace

import numpy as np

from . import boxes as B
from .box_cap import cap_cuts, capped_nms
from .cvmath import cv_exp32, glibc_expf
from .images import decode_image, resize_planes
from .kernels import arithmetic, kernel_pool
from .models import ModelSet, load_models
from .scales import pyramid
from .stage_cache import StageCache, image_digest, models_digest, size_of, stage_cache
from .trace import BELOW_THRESHOLD, CAPPED, KEPT, SUPPRESSED, BoxSet, Filtered, NetStage, ScaleTrace, Trace

F32, F64 = np.float32, np.float64
__version__ = "0.1.0"
DEFAULTS = dict(min_face_size=60, t1=0.6, t2=0.7, t3=0.7, pyramid_factor=0.709)
NMS_SCALE, NMS_MERGE, NMS_RNET, NMS_ONET = 0.5, 0.7, 0.7, 0.7


def validate_params(min_face_size, t1, t2, t3, pyramid_factor) -> dict:
    """Check the detector parameters, naming the allowed range in the error."""
    if isinstance(min_face_size, bool) or not isinstance(min_face_size, (int, np.integer)) or min_face_size < 1:
        raise ValueError(f"min_face_size must be an integer >= 1, got {min_face_size!r}")
    for name, t in (("t1", t1), ("t2", t2), ("t3", t3)):
        if not isinstance(t, (int, float, np.floating)) or not 0 <= float(t) <= 1:
            raise ValueError(f"{name} must be a number in [0, 1], got {t!r}")
    if not isinstance(pyramid_factor, (int, float, np.floating)) or not 0 < float(pyramid_factor) < 1:
        raise ValueError(f"pyramid_factor must be a number in (0, 1), got {pyramid_factor!r}")
    return dict(
        min_face_size=int(min_face_size), t1=float(t1), t2=float(t2), t3=float(t3), pyramid_factor=float(pyramid_factor)
    )


def pnet_input(image: np.ndarray, level) -> np.ndarray:
    """(1, 3, h, w) float32 PNet input of a level: resize of the whole float image, normalised."""
    h, w = (level.height, level.width) if hasattr(level, "height") else (level[1], level[2])
    return resize_planes(image, w, h)[None]


def crop_input(image: np.ndarray, box, size: int) -> np.ndarray:
    """(1, 3, size, size) RNet (24) or ONet (48) input for one rectified box."""
    return B.crop_batch(image, np.asarray(box, F32).reshape(1, 4)[:, :4], size)


def face_probability(out: np.ndarray) -> np.ndarray:
    """PNet map probability: 1 / (1 + cv::exp(o0 - o1)) in float32 (semantics 4.1)."""
    e = cv_exp32((out[0] - out[1]).astype(F32))
    return (F32(1) / (F32(1) + e)).astype(F32)


def box_probability(out: np.ndarray) -> np.ndarray:
    """RNet/ONet probability: f32(1 / (1 + double(expf(o0 - o1)))) (semantics 4.10)."""
    e = glibc_expf((out[:, 0] - out[:, 1]).astype(F32))
    return (1.0 / (1.0 + e.astype(F64))).astype(F32)


def _filter(n, scores, threshold, boxes, nms_thr, mode):
    """Threshold then NMS: returns (Filtered over all n inputs, indices of kept inputs in order)."""
    fate = np.full(n, BELOW_THRESHOLD, np.int8)
    suppressed_by = np.full(n, -1, np.int32)
    passed = np.flatnonzero(scores >= F32(threshold))
    order, sup = B.nms(boxes[passed], scores[passed], nms_thr, mode)
    kept = passed[order]
    fate[passed] = SUPPRESSED
    fate[kept] = KEPT
    hit = sup >= 0
    suppressed_by[passed[hit]] = passed[sup[hit]]
    return Filtered(fate, suppressed_by, kept.astype(np.int32)), kept


class _Keys:
    """Stage-cache keys of one run: what every stage depends on (content digests, not names)."""

    def __init__(self, image, nets, arith, cache):
        self.cache = cache
        # no cache (cache=False, batch): no digest of the image to compute (~4 ms per Mpixel)
        digest = image_digest(image) if cache.max_bytes > 0 else ""
        self.base = (digest, models_digest(nets), arith.engine, arith.build)

    def net(self, name, *what) -> tuple:
        """A network's output on one input (a level size, a crop rectangle, a batch digest)."""
        return ("net", name) + self.base + what

    def stage(self, name, params, *what) -> tuple:
        """A filtering stage: depends on the pyramid and every threshold up to that stage."""
        upto = {"merged": ("t1",), "rnet": ("t1", "t2"), "onet": ("t1", "t2", "t3")}[name]
        return (
            ("stage", name)
            + self.base
            + (params["min_face_size"], params["pyramid_factor"])
            + tuple(params[t] for t in upto)
            + (params.get("box_cap"),)
            + what
        )


class _Clock:
    """Per-stage wall time in ms, plus progress reports."""

    def __init__(self, progress):
        self.t0 = self.last = time.perf_counter()
        self.ms, self.progress = {}, progress

    def lap(self, stage):
        now = time.perf_counter()
        self.ms[stage] = self.ms.get(stage, 0.0) + (now - self.last) * 1000
        self.last = now

    def report(self, stage, fraction):
        if self.progress is not None:
            self.progress(stage, float(fraction))


def _level_maps(image, level, nets, arith):
    """One pyramid level through PNet: ((prob (hh, hw) f32, reg (4, hh, hw) f32), resize s, PNet s).
    The maps depend only on the level's size (h, w), not on its scale or index."""
    s, h, w = level
    t0 = time.perf_counter()
    x = resize_planes(image, w, h)[..., None]
    t1 = time.perf_counter()
    out = nets.pnet.forward_planar(x, arith)[..., 0]
    maps = (face_probability(out), np.ascontiguousarray(out[2:6]))
    return maps, t1 - t0, time.perf_counter() - t1


def _level_proposals(i, level, maps, t1, cap=None) -> ScaleTrace:
    """A level's cells >= t1 as boxes, and its per-scale NMS 0.5 (semantics 4.2-4.3) over at
    most `cap` of them (box_cap.py; None: all, as the C++)."""
    s, h, w = level
    prob, reg = maps
    cand_boxes, cells = B.generate_boxes(prob, s, t1)
    cand = BoxSet(cand_boxes, prob[cells[:, 0], cells[:, 1]], reg[:, cells[:, 0], cells[:, 1]].T.copy())
    order, sup, cut = capped_nms(cand.boxes, cand.scores, NMS_SCALE, cap=cap)
    fate = np.where(cut, CAPPED, np.where(sup >= 0, SUPPRESSED, KEPT)).astype(np.int8)
    return ScaleTrace(
        i,
        s,
        w,
        h,
        prob.shape[1],
        prob.shape[0],
        len(cand),
        cand.take(order),
        prob,
        reg,
        cand,
        cells,
        Filtered(fate, sup, order.astype(np.int32)),
    )


def _run_pnet(image, levels, nets, params, arith, clock, keys):
    """Every level's ScaleTrace, reusing cached maps/proposals. Levels whose maps are missing run
    side by side with several threads (one thread each; a level's bits do not depend on it),
    largest first, progress reported as they finish."""
    arith = arithmetic(arith)
    cache = keys.cache
    map_keys = [keys.net("PNet", lv[1], lv[2]) for lv in levels]
    maps = [cache.get(k) for k in map_keys]
    jobs = [(i, lv) for i, lv in enumerate(levels) if maps[i] is None]
    if arith.threads > 1 and len(jobs) > 1 and sum(lv[1] * lv[2] for _, lv in jobs) >= PARALLEL_MIN_PIXELS:
        one = replace(arith, threads=1)
        futures = [kernel_pool().submit(_level_maps, image, lv, nets, one) for _, lv in jobs]
        for done, _ in enumerate(as_completed(futures)):
            clock.report(f"PNet: {done + 1} of {len(jobs)} scales", 0.6 * (done + 1) / len(jobs))
        results = [f.result() for f in futures]
    else:
        results = []
        for n, (i, lv) in enumerate(jobs):
            clock.report(f"PNet scale {i + 1}/{len(levels)}", 0.6 * n / max(len(jobs), 1))
            results.append(_level_maps(image, lv, nets, arith))
    for (i, _), r in zip(jobs, results):
        maps[i] = cache.put(map_keys[i], r[0])
    resize_s, pnet_s = sum(r[1] for r in results), sum(r[2] for r in results)
    wall = time.perf_counter() - clock.last  # split the phase's wall time by CPU shares
    share = resize_s / max(resize_s + pnet_s, 1e-12) if results else 0.0
    clock.ms["pyramid"] = clock.ms.get("pyramid", 0.0) + wall * 1000 * share
    clock.lap("pnet")
    clock.ms["pnet"] -= wall * 1000 * share
    scales = []
    for i, lv in enumerate(levels):
        key = (map_keys[i], i, lv[0], params["t1"], params.get("box_cap"))
        st = cache.get(key)
        if st is None:
            st = _level_proposals(i, lv, maps[i], params["t1"], params.get("box_cap"))
            cache.put(key, st, size_of(st) - sum(m.nbytes for m in maps[i]))  # maps: counted once
        scales.append(st)
    return scales


#: Below this many pyramid pixels, levels run one after another even with several threads (the
#: hand-offs cost more than they save on small images: measured on the 2-core CI machine).
PARALLEL_MIN_PIXELS = 200_000

#: Boxes per RNet/ONet batch (by input side): small enough that a batch's layers stay in cache,
#: big enough for efficient GEMMs (measured: ~15 % faster than one batch of 128-300 boxes).
BOX_CHUNK = {24: 64, 48: 32}


def _run_net(net, image, squares, size, arith):
    """Batched crops -> net outputs (n, k) float32; empty input gives (0, k). Each box's
    result is independent of its batch (the C++ runs them one by one), so with several threads
    the batches run side by side."""
    if len(squares) == 0:
        return np.zeros((0, 16), F32)
    arith = arithmetic(arith)
    step = BOX_CHUNK.get(size, len(squares))
    starts = range(0, len(squares), step)

    def run(i, a):
        return net.forward_planar(B.crop_batch(image, squares[i : i + step], size, planar=True), a)

    if arith.threads > 1 and len(starts) > 1:
        one = replace(arith, threads=1)
        outs = list(kernel_pool().map(lambda i: run(i, one), starts))
    else:
        outs = [run(i, arith) for i in starts]
    return outs[0] if len(outs) == 1 else np.concatenate(outs)


def _cached_net(net, image, squares, size, arith, keys) -> np.ndarray:
    """_run_net through the stage cache: one entry per box, keyed by its integer crop rectangle
    (the exact kernels give a box the same bits in any batch); only missing boxes run. The
    'blas' engine's bits may depend on the batch, so there the whole batch is one entry."""
    cache = keys.cache
    if arith.engine == "blas" or len(squares) == 0:
        key = keys.net(net.name, hashlib.blake2b(np.ascontiguousarray(squares).data).hexdigest())
        out = cache.get(key)
        return out if out is not None else cache.put(key, _run_net(net, image, squares, size, arith))
    box_keys = [keys.net(net.name, *r) for r in squares.astype(np.int64).tolist()]
    rows = [cache.get(k) for k in box_keys]
    missing = [i for i, r in enumerate(rows) if r is None]
    if missing:
        out = _run_net(net, image, squares[missing], size, arith)
        for j, i in enumerate(missing):
            rows[i] = cache.put(box_keys[i], out[j].copy())  # a copy: a row must not pin the batch
    return np.stack(rows)


def _empty_stage(inp: BoxSet) -> NetStage:
    n = len(inp)
    return NetStage(
        inp,
        np.zeros(n, F32),
        np.zeros((n, 4), F32),
        BoxSet.empty(),
        Filtered(np.zeros(n, np.int8), np.full(n, -1, np.int32), np.zeros(0, np.int32)),
    )


def detect(
    image: np.ndarray,
    min_face_size=60,
    t1=0.6,
    t2=0.7,
    t3=0.7,
    pyramid_factor=0.709,
    models=None,
    engine="exact",
    progress=None,
    image_info=None,
    cpp_build="avx512",
    threads=1,
    cache=True,
    box_cap=None,
) -> Trace:
    """Run OpenFace 2.2's MTCNN on an (H, W, 3) uint8 BGR image and return the full Trace.

    cpp_build: which OpenFace build's last bits to reproduce, 'avx512' (OpenBLAS SkylakeX kernels)
    or 'avx2' (Haswell kernel); threads: kernel threads (the result does not depend on them).
    cache: True = the process's stage cache (stage_cache.py: a threshold change re-runs only
    thresholding and NMS), False = compute everything, or a StageCache of your own. The Trace is
    the same bits either way; its arrays may be shared with other traces, read-only.
    box_cap: None (the C++'s behaviour) or at most this many boxes enter each NMS, so also RNet
    and ONet (box_cap.py; the app's guard); a run the cap cut records where in `cap_cuts`.
    """
    params = validate_params(min_face_size, t1, t2, t3, pyramid_factor)
    arith = arithmetic(engine, cpp_build, threads)
    params["cpp_build"] = cpp_build
    if box_cap is not None:
        if isinstance(box_cap, bool) or not isinstance(box_cap, (int, np.integer)) or box_cap < 1:
            raise ValueError(f"box_cap must be an integer >= 1 or None, got {box_cap!r}")
        params["box_cap"] = int(box_cap)
    image = _as_bgr(image)
    nets = models if isinstance(models, ModelSet) else load_models(models)  # None/str/Path: a folder
    clock = _Clock(progress)
    H, W = image.shape[:2]
    info = {"file": "", "width": W, "height": H, "sha256": ""}
    info.update(image_info or {})
    producer = (
        f"mtcnn_core {__version__} (engine={arith.engine}, kernels={arith.implementation}, cpp_build={arith.build})"
    )
    levels = pyramid(H, W, params["min_face_size"], params["pyramid_factor"])
    if levels is None:
        why = (
            f"image too small: its short side ({min(H, W)} px) is below pyramid_factor x "
            f"min_face_size ({params['pyramid_factor'] * params['min_face_size']:.2f} px); "
            "the C++ throws std::length_error here"
        )
        return _empty_trace(producer, info, params, why)
    if not levels:  # num_scales == 0: the C++ runs no level and finds nothing (semantics 2.3)
        why = (
            f"image too small for any pyramid level: its short side ({min(H, W)} px) is below min_face_size "
            f"({params['min_face_size']} px), so no face of that size fits; the C++ finds nothing too"
        )
        return _empty_trace(producer, info, params, why)
    keys = _Keys(image, nets, arith, stage_cache() if cache is True else cache or StageCache(0))
    scales = _run_pnet(image, levels, nets, params, arith, clock, keys)
    merged, merged_nms, rnet_in, warnings = _cached_stage(
        keys.cache, keys.stage("merged", params), lambda: _merge_scales(scales, W, H, box_cap)
    )
    clock.lap("nms")

    clock.report("RNet", 0.65)
    rnet = _cached_stage(
        keys.cache,
        keys.stage("rnet", params),
        lambda: _net_stage(nets.rnet, image, rnet_in, 24, params["t2"], NMS_RNET, "iou", arith, keys),
    )
    clock.lap("rnet")
    squares = B.rectify(B.apply_correction(rnet.kept.boxes, rnet.kept.corrections, add1=False))
    onet_in = BoxSet(squares, rnet.kept.scores.copy())
    warnings = warnings + _offimage_warnings(squares, W, H, "ONet")

    clock.report("ONet", 0.85)
    onet = _cached_stage(
        keys.cache,
        keys.stage("onet", params),
        lambda: _net_stage(nets.onet, image, onet_in, 48, params["t3"], NMS_ONET, "min", arith, keys),
    )
    clock.lap("onet")
    dets = BoxSet(B.final_fix(onet.kept.boxes), onet.kept.scores.copy())
    clock.ms["total"] = (time.perf_counter() - clock.t0) * 1000
    clock.report("done", 1.0)
    return Trace(
        producer,
        info,
        params,
        scales,
        merged,
        merged_nms,
        rnet,
        onet,
        dets,
        clock.ms,
        warnings,
        cap_cuts(scales, merged_nms, box_cap),
    )


def _cached_stage(cache, key, compute):
    """compute() once per key in the stage cache."""
    value = cache.get(key)
    return value if value is not None else cache.put(key, compute())


def _merge_scales(scales, W, H, cap=None):
    """Cross-scale NMS 0.7 (over at most `cap` boxes), then PNet correction and squaring
    (semantics 4.4): (merged BoxSet, its Filtered, RNet input BoxSet, warnings)."""
    allb = _concat([s.kept for s in scales])
    order, sup, cut = capped_nms(allb.boxes, allb.scores, NMS_MERGE, cap=cap)
    merged = allb.take(order)
    merged_nms = Filtered(
        np.where(cut, CAPPED, np.where(sup >= 0, SUPPRESSED, KEPT)).astype(np.int8), sup, order.astype(np.int32)
    )
    squares = B.rectify(B.apply_correction(merged.boxes, merged.corrections, add1=False))
    return merged, merged_nms, BoxSet(squares, merged.scores.copy()), _offimage_warnings(squares, W, H, "RNet")


def detect_bytes(
    data: bytes,
    name: str = "image",
    models=None,
    engine="exact",
    cpp_build="avx512",
    threads=1,
    budget=None,
    cache=True,
    **params,
) -> Trace:
    """Detect on an image file's bytes, decoded like cv::imread; the trace records the file name
    and SHA-256, and the decoder's notes (e.g. first frame of an animation) lead its warnings.
    budget: pyramid pixels allowed (cost.check_budget, checked before PNet runs); None = no limit."""
    checked = validate_params(**{**DEFAULTS, **params})
    dec = decode_image(data, name=name)
    if budget is not None:
        from .cost import check_budget

        check_budget(dec.image.shape[0], dec.image.shape[1], checked, budget)
    info = {"file": name, "sha256": hashlib.sha256(data).hexdigest()}
    trace = detect(
        dec.image,
        models=models,
        engine=engine,
        image_info=info,
        cpp_build=cpp_build,
        threads=threads,
        cache=cache,
        **params,
    )
    trace.warnings[:0] = dec.notes
    return trace


def _net_stage(net, image, inp: BoxSet, size, threshold, nms_thr, mode, engine, keys) -> NetStage:
    """RNet or ONet over all input squares (outputs cached per box), then threshold,
    (+1 correction,) NMS."""
    if len(inp) == 0:
        return _empty_stage(inp)
    out = _cached_net(net, image, inp.boxes, size, engine, keys)
    scores, corr = box_probability(out), np.ascontiguousarray(out[:, 2:6])
    if mode == "iou":  # RNet: NMS on the input squares
        filtered, kept = _filter(len(inp), scores, threshold, inp.boxes, nms_thr, mode)
        kept_set = BoxSet(inp.boxes[kept], scores[kept], corr[kept])
        return NetStage(inp, scores, corr, kept_set, filtered)
    # ONet: threshold, correction with +1, then min-NMS on the corrected float boxes
    passed = np.flatnonzero(scores >= F32(threshold))
    corrected_all = np.zeros_like(inp.boxes)
    corrected_all[passed] = B.apply_correction(inp.boxes[passed], corr[passed], add1=True)
    filtered, kept = _filter(len(inp), scores, threshold, corrected_all, nms_thr, mode)
    landmarks = _landmarks(inp.boxes, out)
    return NetStage(
        inp,
        scores,
        corr,
        BoxSet(corrected_all[kept], scores[kept]),
        filtered,
        corrected=BoxSet(corrected_all[passed], scores[passed]),
        landmarks=landmarks,
    )


def _landmarks(squares, out) -> np.ndarray | None:
    """ONet's 5 points (x1..x5, y1..y5) mapped onto the crop window (not part of the C++ output)."""
    if out.shape[1] < 16:
        return None
    x0, y0 = squares[:, 0:1] - 1, squares[:, 1:2] - 1
    w, h = squares[:, 2:3] + 1, squares[:, 3:4] + 1
    return np.concatenate([x0 + out[:, 6:11] * w, y0 + out[:, 11:16] * h], axis=1).astype(F32)


def _offimage_warnings(squares, W, H, net) -> list:
    off = (squares[:, 0] - 1 > W) | (squares[:, 1] - 1 > H)
    if not off.any():
        return []
    return [
        f"{int(off.sum())} {net} input box(es) start beyond the image edge; the C++ throws on "
        "such a crop (OpenCV negative ROI), this port feeds an all-zero crop"
    ]


def _concat(sets) -> BoxSet:
    if not sets:
        return BoxSet.empty()
    return BoxSet(
        np.concatenate([s.boxes for s in sets]).astype(F32),
        np.concatenate([s.scores for s in sets]).astype(F32),
        np.concatenate([s.corrections for s in sets]).astype(F32),
    )


def _empty_trace(producer, info, params, why) -> Trace:
    empty_stage = _empty_stage(BoxSet.empty(with_corrections=False))
    return Trace(
        producer,
        info,
        params,
        [],
        BoxSet.empty(),
        Filtered(np.zeros(0, np.int8), np.zeros(0, np.int32), np.zeros(0, np.int32)),
        empty_stage,
        _empty_stage(BoxSet.empty(with_corrections=False)),
        BoxSet.empty(with_corrections=False),
        {"total": 0.0},
        [why],
    )


def _as_bgr(image) -> np.ndarray:
    """Accept (H, W, 3) uint8 BGR, or (H, W) grey which DetectFaces replicates (semantics 2.2)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) BGR or (H, W) grey, got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError("image is empty (0 pixels)")
    return image
