"""Explanations of single numbers of a detection run, computed by the core's own functions.

* `explain_cell`: one PNet heatmap cell — its 12x12 window, the values of every layer that feed
  it, conv1 written out as the C++'s multiply-add chain, logits -> P(face), regression, fate.
* `explain_box`: one RNet/ONet input — the zero-padded crop, every layer, fc1's input vector in
  the C++'s flatten order, logits -> P(face), regression, ONet's landmarks, fate.
* `journey_*`: what happened to a proposal at every later stage (threshold, which NMS, which box).
* `occlusion_map`: the drop in RNet/ONet P(face) when a grey patch hides part of the crop.

Nothing here re-derives the detector: values come from `Network.forward(..., return_all=True)`,
`cascade.face_probability` / `box_probability`, `boxes.*` and the Trace's records; the conv1
walk-through is `kernels.reference.fma32` applied term by term in the C++'s order, and checks its
result against the layer output. Pure numpy (no UI imports).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import boxes as B
from .cascade import NMS_MERGE, NMS_ONET, NMS_RNET, NMS_SCALE, box_probability, crop_input, face_probability
from .cvmath import cv_exp32, glibc_expf
from .kernels import arithmetic, openblas
from .kernels.reference import conv_weight_matrix, fma32
from .network import NET_INPUT
from .trace import BELOW_THRESHOLD, CAPPED, KEPT, SUPPRESSED

F32 = np.float32

#: Names of the last layer's outputs (semantics 1.6); ONet's landmarks are x1..x5 then y1..y5.
LANDMARK_POINTS = ("left eye", "right eye", "nose", "left mouth corner", "right mouth corner")
HEAD_OUTPUTS = (
    "non-face logit",
    "face logit",
    "dx1 (left edge)",
    "dy1 (top edge)",
    "dx2 (right edge)",
    "dy2 (bottom edge)",
)
OUTCOMES = {KEPT: "kept", BELOW_THRESHOLD: "below threshold", SUPPRESSED: "suppressed", CAPPED: "cut by the box cap"}
#: Occlusion: the most patch positions one map may run through a network (bounds time and memory).
MAX_OCCLUSION_POSITIONS = 2304
OCCLUSION_BATCH = 64


def output_names(net_name: str, n: int) -> list[str]:
    """Meaning of each of the last layer's n outputs of PNet/RNet/ONet (generic past the known)."""
    names = list(HEAD_OUTPUTS)
    if net_name == "ONet":
        names += [f"landmark x{k + 1} ({p})" for k, p in enumerate(LANDMARK_POINTS)]
        names += [f"landmark y{k + 1} ({p})" for k, p in enumerate(LANDMARK_POINTS)]
    return [names[k] if k < len(names) else f"output {k}" for k in range(n)]


# ---- receptive fields ---------------------------------------------------------------------------
@dataclass
class MapSlice:
    """The part of one layer's output that feeds the explained value.

    values: (C, h, w) float32 for maps, (F,) for vectors; rows/cols: [start, end) in the full map."""

    layer: int
    kind: str
    values: np.ndarray
    rows: tuple = (0, 0)
    cols: tuple = (0, 0)
    full_shape: tuple = ()


def _input_range(layer, lo: int, hi: int, size: int) -> tuple[int, int]:
    """Input rows [a, b) that output rows [lo, hi) of one layer read (cut at the input's edge)."""
    if layer.kind == "conv":
        return lo, hi + layer.weight.shape[2] - 1
    if layer.kind == "maxpool":
        return lo * layer.sy, min((hi - 1) * layer.sy + layer.ky, size)
    return lo, hi


def _input_col_range(layer, lo: int, hi: int, size: int) -> tuple[int, int]:
    if layer.kind == "conv":
        return lo, hi + layer.weight.shape[3] - 1
    if layer.kind == "maxpool":
        return lo * layer.sx, min((hi - 1) * layer.sx + layer.kx, size)
    return lo, hi


def receptive_slices(net, x: np.ndarray, outs: list, row: int, col: int) -> tuple[tuple, list]:
    """For a fully convolutional net (PNet): the input window and every layer's region that feed
    output cell (row, col). x: (1, 3, H, W) input; outs: Network.forward(..., return_all=True).
    Returns ((r0, r1, c0, c1) input window, [MapSlice] per layer, first layer first)."""
    r, c = (row, row + 1), (col, col + 1)
    regions = []
    for i in range(len(net.layers) - 1, -1, -1):
        regions.append((i, r, c))
        below = x if i == 0 else outs[i - 1]
        r = _input_range(net.layers[i], *r, below.shape[2])
        c = _input_col_range(net.layers[i], *c, below.shape[3])
    slices = [
        MapSlice(i, net.layers[i].kind, outs[i][0, :, a:b, p:q].copy(), (a, b), (p, q), tuple(outs[i].shape[1:]))
        for i, (a, b), (p, q) in reversed(regions)
    ]
    return (r[0], r[1], c[0], c[1]), slices


# ---- conv written out ---------------------------------------------------------------------------
@dataclass
class ConvTerm:
    """One multiply-add of a conv output's chain: term j of the im2col column."""

    j: int
    channel: int  # input channel (or -1 for the bias term)
    r: int  # kernel row
    c: int  # kernel column
    x: float  # input value (1 for the bias)
    w: float  # weight (the bias for the last term)
    acc: float  # float32 running sum of this term's chain after fma(x, w, acc)
    chain: str = ""  # '' (one chain) or 'even'/'odd' (the AVX2 build's split outputs)


@dataclass
class ConvWalk:
    """One conv output as the C++ computes it (semantics 3.1-3.2, 6.8)."""

    out_channel: int
    y: int
    x: int
    terms: list
    blocks: list  # float32 result of each K block (before they are added)
    result: float  # the chain's final float32
    layer_value: float  # the same output in the layer's map
    build: str
    split: bool

    @property
    def equal(self) -> bool:
        """The walk-through's result has exactly the layer output's bits."""
        return np.float32(self.result).view(np.uint32) == np.float32(self.layer_value).view(np.uint32)


def conv_walkthrough(
    x: np.ndarray, layer, out_map: np.ndarray, out_channel: int, y: int, xo: int, build: str = "avx512"
) -> ConvWalk:
    """Output (out_channel, y, xo) of conv `layer` on x (C, H, W) float32 as its multiply-adds, in
    the C++'s im2col order j = in*kh*kw + c*kh + r with the bias last (reference.conv_weight_matrix),
    each step one float32 fma (reference.fma32); out_map (O, Ho, Wo) is the layer's output."""
    o, cin, kh, kw = layer.weight.shape
    ho, wo = out_map.shape[1:]
    wm = conv_weight_matrix(layer.weight, layer.bias)[:, out_channel]  # (K+1,) rows in order
    k1 = wm.size
    col = np.empty(k1, F32)
    meta = []
    for j in range(k1 - 1):
        ch, rest = divmod(j, kh * kw)
        cc, rr = divmod(rest, kh)
        col[j] = x[ch, y + rr, xo + cc]
        meta.append((ch, rr, cc))
    col[-1] = F32(1)
    meta.append((-1, -1, -1))
    q = y * wo + xo
    split = bool(openblas.split_table(o, build)[out_channel, openblas.column_codes(ho * wo)[q]])
    terms, blocks, total = [], [], None
    for s, e in openblas.k_blocks(k1):
        acc = {"": F32(0), "even": F32(0), "odd": F32(0)}
        f = s + (e - s) // 8 * 8
        for j in range(s, e):
            chain = "" if not split else ("odd" if j < f and (j - s) % 2 else "even")
            acc[chain] = F32(fma32(col[j], wm[j], acc[chain]))
            ch, rr, cc = meta[j]
            terms.append(ConvTerm(j, ch, rr, cc, float(col[j]), float(wm[j]), float(acc[chain]), chain))
        block = (acc["even"] + acc["odd"]) if split else acc[""]
        blocks.append(F32(block))
        if total is None:
            total = F32(block + F32(0)) if build == "avx2" else F32(block)
        else:
            total = F32(total + block)
    return ConvWalk(out_channel, y, xo, terms, blocks, float(total), float(out_map[out_channel, y, xo]), build, split)


# ---- fates --------------------------------------------------------------------------------------
@dataclass
class Step:
    """One filtering step a proposal went through."""

    stage: str
    outcome: str  # 'kept' / 'below threshold' / 'suppressed' / 'not reached'
    text: str
    index: int = -1  # the proposal's index in that step's list
    score: float | None = None
    threshold: float | None = None
    by: int = -1  # index of the suppressing proposal in the same list
    by_box: np.ndarray | None = None
    overlap: float | None = None
    box: np.ndarray | None = None  # the proposal's box as that step saw it


def _overlap(a, b, mode: str) -> float:
    """The NMS overlap of two float boxes, by the core's own rounding and formula (semantics 4.5)."""
    ra = B.to_int_rects(np.asarray(a, F32).reshape(1, 4))
    rb = B.to_int_rects(np.asarray(b, F32).reshape(1, 4))
    return float(B.overlaps(ra, rb, mode)[0, 0])


def _suppressed(stage, i, boxes, scores, by, thr, mode, describe) -> Step:
    ov = _overlap(boxes[i], boxes[by], mode)
    kind = "IoU" if mode == "iou" else "intersection / smaller area"
    return Step(
        stage,
        "suppressed",
        f"suppressed by {describe(by)} (score {scores[by]:.4f} ≥ {scores[i]:.4f}; {kind} {ov:.3f} > {thr})",
        i,
        float(scores[i]),
        None,
        int(by),
        np.asarray(boxes[by]),
        ov,
        np.asarray(boxes[i]),
    )


def _position(order: np.ndarray, i: int) -> int:
    return int(np.flatnonzero(np.asarray(order) == i)[0])


def merged_source(trace, m: int) -> tuple[int, int]:
    """(level, candidate index) of entry m of the cross-scale NMS input (every level's kept
    boxes concatenated in level order)."""
    for s in trace.scales:
        if m < len(s.kept):
            return s.index, int(s.nms.order[m])
        m -= len(s.kept)
    raise IndexError("merged index out of range")


def _cell_name(trace, level: int, k: int) -> str:
    r, c = trace.scales[level].cells[k]
    return f"level {level} cell (row {r}, col {c})"


def journey_from_cell(trace, level: int, row: int, col: int) -> list:
    """Every step a PNet cell's proposal went through, from t1 to the final detections."""
    s = trace.scales[level]
    t1 = float(trace.params["t1"])
    p = float(s.heatmap[row, col])
    if p < F32(t1):
        return [Step("PNet t1", "below threshold", f"P(face) {p:.4f} < t1 = {t1}: no proposal", score=p, threshold=t1)]
    k = int(np.flatnonzero((s.cells[:, 0] == row) & (s.cells[:, 1] == col))[0])
    steps = [
        Step(
            "PNet t1",
            "kept",
            f"P(face) {p:.4f} ≥ t1 = {t1}: proposal #{k} of level {level}",
            k,
            p,
            t1,
            box=s.candidates.boxes[k],
        )
    ]
    stage = f"NMS {NMS_SCALE} within level {level}"
    if s.nms.fate[k] == CAPPED:
        return steps + [_capped(stage, k, p, s.candidates.boxes[k], trace)]
    if s.nms.fate[k] == SUPPRESSED:
        steps.append(
            _suppressed(
                stage,
                k,
                s.candidates.boxes,
                s.candidates.scores,
                int(s.nms.suppressed_by[k]),
                NMS_SCALE,
                "iou",
                lambda b: _cell_name(trace, level, b),
            )
        )
        return steps
    steps.append(
        Step(
            stage,
            "kept",
            f"kept: no higher-scoring box of this level overlaps it by IoU > {NMS_SCALE}",
            k,
            p,
            box=s.candidates.boxes[k],
        )
    )
    m = sum(len(t.kept) for t in trace.scales[:level]) + _position(s.nms.order, k)
    return steps + journey_from_merged(trace, m)


def journey_from_merged(trace, m: int) -> list:
    """From entry m of the cross-scale NMS 0.7 on."""
    parts = [t.kept for t in trace.scales]
    boxes = np.concatenate([b.boxes for b in parts])
    scores = np.concatenate([b.scores for b in parts])
    stage = f"NMS {NMS_MERGE} across levels"
    f = trace.merged_nms
    if f.fate[m] == CAPPED:
        return [_capped(stage, m, float(scores[m]), boxes[m], trace)]
    if f.fate[m] == SUPPRESSED:
        return [
            _suppressed(
                stage,
                m,
                boxes,
                scores,
                int(f.suppressed_by[m]),
                NMS_MERGE,
                "iou",
                lambda b: _cell_name(trace, *merged_source(trace, b)),
            )
        ]
    q = _position(f.order, m)
    step = Step(
        stage,
        "kept",
        f"kept as merged proposal #{q}; PNet's regression moves it and it is squared into RNet input #{q}",
        m,
        float(scores[m]),
        box=boxes[m],
    )
    return [step] + journey_from_net(trace, "RNet", q)


def _capped(stage, i, score, box, trace) -> Step:
    """A box the run's box cap left out of an NMS (box_cap.py): the C++ would have gone on."""
    cap = trace.params.get("box_cap")
    return Step(
        stage,
        "cut by the box cap",
        f"not among the {cap} highest-scored boxes this run let "
        "into this NMS (the app's box cap); OpenFace's C++ would have processed it, so its "
        "fate there is unknown here",
        i,
        score,
        box=box,
    )


def journey_from_net(trace, net_name: str, i: int) -> list:
    """From input i of RNet or ONet on: threshold, NMS, then ONet or the final detections."""
    st = trace.rnet if net_name == "RNet" else trace.onet
    t = float(trace.params["t2" if net_name == "RNet" else "t3"])
    tname = "t2" if net_name == "RNet" else "t3"
    score = float(st.scores[i])
    if st.filtered is None:
        return [Step(f"{net_name} {tname}", "not recorded", "this trace does not record fates", i, score, t)]
    if st.filtered.fate[i] == BELOW_THRESHOLD:
        return [
            Step(
                f"{net_name} {tname}",
                "below threshold",
                f"{net_name} P(face) {score:.4f} < {tname} = {t}: dropped",
                i,
                score,
                t,
                box=st.input.boxes[i],
            )
        ]
    steps = [
        Step(
            f"{net_name} {tname}",
            "kept",
            f"{net_name} P(face) {score:.4f} ≥ {tname} = {t}",
            i,
            score,
            t,
            box=st.input.boxes[i],
        )
    ]
    if net_name == "RNet":
        stage, boxes, mode, thr = f"RNet NMS {NMS_RNET} (IoU)", st.input.boxes, "iou", NMS_RNET
    else:  # ONet's NMS runs on the corrected boxes of the inputs that passed t3
        stage, mode, thr = f"ONet NMS {NMS_ONET} (min)", "min", NMS_ONET
        passed = np.flatnonzero(st.scores >= F32(t))
        boxes = np.zeros_like(st.input.boxes)
        boxes[passed] = st.corrected.boxes
    if st.filtered.fate[i] == SUPPRESSED:
        return steps + [
            _suppressed(
                stage,
                i,
                boxes,
                st.scores,
                int(st.filtered.suppressed_by[i]),
                thr,
                mode,
                lambda b: f"{net_name} input #{b}",
            )
        ]
    q = _position(st.filtered.order, i)
    if net_name == "RNet":
        steps.append(
            Step(
                stage,
                "kept",
                f"kept as RNet box #{q}; RNet's regression moves it and it is squared into ONet input #{q}",
                i,
                score,
                box=boxes[i],
            )
        )
        return steps + journey_from_net(trace, "ONet", q)
    steps.append(Step(stage, "kept", f"kept: final face #{q} after OpenFace's box fix", i, score, box=boxes[i]))
    steps.append(
        Step(
            "final",
            "kept",
            f"face #{q}, confidence {float(trace.detections.scores[q]):.4f}",
            q,
            float(trace.detections.scores[q]),
            box=trace.detections.boxes[q],
        )
    )
    return steps


# ---- one PNet cell ------------------------------------------------------------------------------
@dataclass
class CellExplanation:
    """Why PNet cell (row, col) of a level has its probability, and what became of its box."""

    level: int
    row: int
    col: int
    scale: float
    window: tuple  # (r0, r1, c0, c1) on the level image (12x12)
    window_pixels: np.ndarray  # (3, 12, 12) float32 normalised R, G, B input
    box: np.ndarray  # (4,) float32 x, y, w, h of the cell in the original image
    slices: list  # [MapSlice] per layer
    logits: tuple  # (non-face, face) float32
    diff: float  # f32(o0 - o1)
    exp: float  # cv::exp(diff)
    prob: float  # face_probability of the logits
    trace_prob: float  # the trace's heatmap value
    t1: float
    regression: np.ndarray  # (4,) float32 dx1, dy1, dx2, dy2
    trace_regression: np.ndarray  # the trace's regression map at the cell
    corrected: np.ndarray  # (4,) box moved by the regression (no +1), before squaring
    square: np.ndarray  # (4,) the squared box RNet would see
    conv: ConvWalk
    journey: list = field(default_factory=list)


def pnet_layers(net, x: np.ndarray, engine="exact") -> list:
    """Every PNet layer's output on one level input x (1, 3, H, W) (Network.forward, return_all)."""
    return net.forward(x, engine=engine, return_all=True)


def explain_cell(
    trace, level: int, row: int, col: int, x: np.ndarray, outs: list, net, conv_pick: tuple = (0, 0, 0)
) -> CellExplanation:
    """Explain heatmap cell (row, col) of pyramid level `level`. x: that level's PNet input
    (cascade.pnet_input); outs: pnet_layers(net, x) computed with the run's engine; conv_pick:
    (channel, dy, dx) of the conv1 output inside the window to write out as multiply-adds."""
    s = trace.scales[level]
    hh, ww = s.heatmap.shape
    if not (0 <= row < hh and 0 <= col < ww):
        raise ValueError(f"cell ({row}, {col}) outside the {hh}x{ww} heatmap of level {level}")
    window, slices = receptive_slices(net, x, outs, row, col)
    r0, r1, c0, c1 = window
    head = outs[-1][0, :, row, col]
    o0, o1 = head[0], head[1]
    diff = F32(o0 - o1)
    prob = float(face_probability(head[:2, None, None])[0, 0])
    reg = np.asarray(head[2:6], F32).copy()
    x1, x2 = B.cell_edges(np.array([col]), s.scale)
    y1, y2 = B.cell_edges(np.array([row]), s.scale)
    box = np.array([x1[0], y1[0], x2[0] - x1[0], y2[0] - y1[0]], F32)
    corrected = B.apply_correction(box[None], reg[None], add1=False)
    ch, dy, dx = conv_pick
    conv_out, first = outs[0][0], slices[0]
    ch = int(np.clip(ch, 0, conv_out.shape[0] - 1))
    yy = first.rows[0] + int(np.clip(dy, 0, first.rows[1] - first.rows[0] - 1))
    xx = first.cols[0] + int(np.clip(dx, 0, first.cols[1] - first.cols[0] - 1))
    walk = conv_walkthrough(x[0], net.layers[0], conv_out, ch, yy, xx, trace.params.get("cpp_build", "avx512"))
    return CellExplanation(
        level,
        row,
        col,
        float(s.scale),
        window,
        x[0, :, r0:r1, c0:c1].copy(),
        box,
        slices,
        (float(o0), float(o1)),
        float(diff),
        float(cv_exp32(diff)),
        prob,
        float(s.heatmap[row, col]),
        float(trace.params["t1"]),
        reg,
        s.regression[:, row, col].copy(),
        corrected[0],
        B.rectify(corrected)[0],
        walk,
        journey_from_cell(trace, level, row, col),
    )


# ---- one RNet/ONet box --------------------------------------------------------------------------
@dataclass
class CropGeometry:
    """How a square is cut from the image (semantics 4.9): buffer columns x-1 .. x+w-1 (w+1 px),
    rows likewise; the parts outside the image are zeros."""

    square: np.ndarray  # (4,) x, y, w, h
    x0: int  # image column of the buffer's first column
    y0: int
    width: int  # buffer size (w + 1, h + 1)
    height: int
    pad_left: int  # zero columns/rows on each side (outside the image)
    pad_top: int
    pad_right: int
    pad_bottom: int
    size: int  # 24 / 48: the net input side


def crop_geometry(square, image_shape, size: int) -> CropGeometry:
    """Where the crop buffer of a rectified square lies on an (H, W) image and how much is padding."""
    b = np.asarray(square, F32)
    x, y, w, h = (int(v) for v in b)
    H, W = image_shape[:2]
    x0, y0, cw, ch = x - 1, y - 1, w + 1, h + 1

    def pads(start, n, limit):
        return min(max(0, -start), n), min(max(0, start + n - limit), n)

    pl, pr = pads(x0, cw, W)
    pt, pb = pads(y0, ch, H)
    return CropGeometry(b, x0, y0, cw, ch, pl, pt, pr, pb, size)


def crop_buffer_preview(image: np.ndarray, g: CropGeometry, max_side: int = 240) -> np.ndarray:
    """The crop buffer (zeros outside the image) as (h, w, 3) uint8 BGR, nearest-sampled to at most
    max_side px a side (display only; the net input is crop_input's resize)."""
    step = max(1.0, max(g.width, g.height) / max_side)
    ys = g.y0 + (np.arange(int(g.height / step)) * step).astype(np.int64)
    xs = g.x0 + (np.arange(int(g.width / step)) * step).astype(np.int64)
    H, W = image.shape[:2]
    out = np.zeros((len(ys), len(xs), 3), np.uint8)
    iy, ix = (ys >= 0) & (ys < H), (xs >= 0) & (xs < W)
    out[np.ix_(iy, ix)] = image[np.ix_(ys[iy], xs[ix])]
    return out


@dataclass
class BoxExplanation:
    """Why RNet/ONet gave input box `index` its probability, and what became of it."""

    net: str
    index: int
    geometry: CropGeometry
    x: np.ndarray  # (1, 3, s, s) float32 net input (crop_input)
    layers: list  # [MapSlice] every layer's whole output
    fc1_layer: int  # index of the first fully connected layer
    fc1_input: np.ndarray  # (K,) float32 the vector fc1 multiplies, in the C++'s order
    fc1_order: np.ndarray  # (K, 3) int (channel, row, col) of each entry of fc1_input
    fc1_check: bool  # fc1 applied to that vector gives the layer's output exactly
    head: np.ndarray  # (n,) float32 last layer's outputs
    diff: float
    exp: float
    prob: float
    trace_prob: float
    threshold: float
    regression: np.ndarray  # (4,)
    trace_regression: np.ndarray
    corrected: np.ndarray  # (4,) the box after this net's regression
    landmarks: np.ndarray | None  # ONet: (5, 2) x, y in image pixels (computed, discarded by C++)
    journey: list = field(default_factory=list)


def fc1_flatten_order(c: int, h: int, w: int) -> np.ndarray:
    """(c*h*w, 3) (channel, row, col) of each entry of fc1's input: each map transposed before
    flattening, v[ch*H*W + col*H + row] (semantics 1.7, 3.5b)."""
    ch, cc, rr = np.meshgrid(np.arange(c), np.arange(w), np.arange(h), indexing="ij")
    return np.stack([ch.ravel(), rr.ravel(), cc.ravel()], axis=1)


def explain_box(trace, image: np.ndarray, net_name: str, index: int, net, engine="exact") -> BoxExplanation:
    """Explain RNet/ONet input `index` of a run on `image` (H, W, 3) uint8 BGR; net: that
    network; engine: the run's engine (an Arithmetic or name; the trace's cpp_build is used)."""
    from . import layers as L

    st = trace.rnet if net_name == "RNet" else trace.onet
    if not 0 <= index < len(st.input):
        raise ValueError(f"{net_name} has {len(st.input)} input boxes, no #{index}")
    arith = arithmetic(engine, trace.params.get("cpp_build", "avx512"))
    size = NET_INPUT[net_name]
    square = st.input.boxes[index]
    x = crop_input(image, square, size)
    outs = net.forward(x, engine=arith, return_all=True)
    layers = [
        MapSlice(i, lay.kind, o[0].copy(), full_shape=tuple(o.shape[1:]))
        for i, (lay, o) in enumerate(zip(net.layers, outs))
    ]
    k = next(i for i, lay in enumerate(net.layers) if lay.kind == "fc")
    maps = outs[k - 1][0]
    order = fc1_flatten_order(*maps.shape)
    v = maps[order[:, 0], order[:, 1], order[:, 2]].astype(F32)
    check = L.fully_connected(v[None], net.layers[k], arith)
    fc1_ok = bool(np.array_equal(check.view(np.uint32), outs[k].view(np.uint32)))
    head = outs[-1][0].astype(F32)
    diff = F32(head[0] - head[1])
    prob = float(box_probability(head[None])[0])
    reg = head[2:6].copy()
    add1 = net_name == "ONet"
    corrected = B.apply_correction(square[None], reg[None], add1=add1)[0]
    lms = None
    if net_name == "ONet" and st.landmarks is not None:
        lms = st.landmarks[index].reshape(2, 5).T.copy()
    return BoxExplanation(
        net_name,
        index,
        crop_geometry(square, image.shape, size),
        x,
        layers,
        k,
        v,
        order,
        fc1_ok,
        head,
        float(diff),
        float(glibc_expf(np.array([diff]))[0]),
        prob,
        float(st.scores[index]),
        float(trace.params["t2" if net_name == "RNet" else "t3"]),
        reg,
        st.corrections[index].copy(),
        corrected,
        lms,
        journey_from_net(trace, net_name, index),
    )


# ---- occlusion sensitivity ----------------------------------------------------------------------
@dataclass
class OcclusionMap:
    """P(face) of a net input with a grey patch at each position (top-left corners on a grid)."""

    net: str
    patch: int
    stride: int
    base: float  # P(face) without any patch (equals the stage score)
    starts: np.ndarray  # (k,) patch top-left coordinates along each axis
    scores: np.ndarray  # (k, k) float32 P(face) with the patch at (starts[i], starts[j])
    pixel_drop: np.ndarray  # (s, s) float32 mean of base - score over the patches covering each pixel

    @property
    def drop(self) -> np.ndarray:
        """(k, k) float32 fall in P(face) caused by each patch position (positive = it mattered)."""
        return (F32(self.base) - self.scores).astype(F32)


def occlusion_starts(size: int, patch: int, stride: int) -> np.ndarray:
    """Patch positions along one axis: every `stride` px, the last one flush with the edge."""
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return np.array(starts, np.int64)


def occlusion_map(
    x: np.ndarray, net, engine="exact", patch: int = 8, stride: int = 4, net_name: str | None = None
) -> OcclusionMap:
    """Slide a grey patch (0 in the normalised input, i.e. pixel value 127.5) over a net input
    x (1, 3, s, s) and record RNet/ONet's P(face) (box_probability) at each position."""
    size = int(x.shape[-1])
    if not (1 <= int(patch) <= size) or not (1 <= int(stride) <= size):
        raise ValueError(f"patch and stride must be between 1 and {size} px, got {patch} and {stride}")
    patch, stride = int(patch), int(stride)
    starts = occlusion_starts(size, patch, stride)
    if len(starts) ** 2 > MAX_OCCLUSION_POSITIONS:
        raise ValueError(
            f"{len(starts) ** 2} patch positions: over the limit of {MAX_OCCLUSION_POSITIONS}; use a larger stride"
        )
    base = float(box_probability(net.forward(x, engine=engine))[0])
    pos = [(a, b) for a in starts for b in starts]
    scores = np.empty(len(pos), F32)
    for i in range(0, len(pos), OCCLUSION_BATCH):
        chunk = pos[i : i + OCCLUSION_BATCH]
        batch = np.repeat(x.astype(F32), len(chunk), axis=0)
        for n, (a, b) in enumerate(chunk):
            batch[n, :, a : a + patch, b : b + patch] = 0
        scores[i : i + len(chunk)] = box_probability(net.forward(batch, engine=engine))
    scores = scores.reshape(len(starts), len(starts))
    total = np.zeros((size, size), np.float64)
    count = np.zeros((size, size), np.int64)
    for (a, b), sc in zip(pos, scores.ravel()):
        total[a : a + patch, b : b + patch] += base - float(sc)
        count[a : a + patch, b : b + patch] += 1
    return OcclusionMap(
        net_name or getattr(net, "name", ""),
        patch,
        stride,
        base,
        starts,
        scores,
        (total / np.maximum(count, 1)).astype(F32),
    )
