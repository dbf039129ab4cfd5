"""Hostile traces, CSVs, npz files and command lines: each ends in one line and exit 2 (or one
TraceFormatError), in bounded time and memory, never a traceback, a hang or a memory blow-up."""

import importlib
import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import mtcnn_core as mc
from mtcnn_core.trace import BoxSet, load_any
from tests.conftest import require_dask
from tests.hostile import ROOT, run_bounded

C = importlib.import_module("mtcnn_core.compare")  # (mc.compare is the function)

SAMPLE = ROOT / "sample_images" / "grace_hopper.jpg"
CPP = ROOT / "sample_images" / "cpp" / "grace_hopper.json"


def cli(*args, timeout=60, **kw):
    return subprocess.run(
        [sys.executable, "-m", "mtcnn_core", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )


def assert_contract(p):
    assert p.returncode == 2, (p.returncode, p.stderr[-1500:])
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr[-1500:]
    return lines[0]


HOSTILE_FILES = {
    "nested-1000.json": b"[" * 1000 + b"]" * 1000,
    "nested-100k.json": b'{"detections": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "int-400-digits.json": b'{"detections": [[' + b"9" * 400 + b", 1, 2, 3, 0.5]]}",
    "bom.json": b"\xef\xbb\xbf" + json.dumps({"detections": [[1, 2, 3, 4, 0.5]]}).encode(),
    "cr-only.csv": b"x,y,w,h,confidence\r1,2,3,4,0.5\r5,6,7,8,0.9\r",
    "field-128k.csv": b"x,y,w,h,confidence\n" + b"1" * (128 << 10) + b",2,3,4,0.5\n",
    "quote-128k.csv": b'x,y,w,h,confidence\n"' + b"1" * (200 << 10) + b'",2,3,4,0.5\n',
}


@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
def test_hostile_trace_files_keep_the_cli_contract(tmp_path, name):
    p = tmp_path / name
    p.write_bytes(HOSTILE_FILES[name])
    r = cli("compare", p, CPP)
    if name in ("bom.json", "cr-only.csv"):  # valid files: read, then compared (exit 0/1)
        assert r.returncode in (0, 1) and "Traceback" not in r.stderr, r.stderr[-1500:]
        t = load_any(p)
        assert len(t.detections) == (1 if name == "bom.json" else 2)
    else:
        assert_contract(r)


def test_special_files_and_paths_keep_the_cli_contract(tmp_path):
    fifo = tmp_path / "fifo.jpg"
    os.mkfifo(fifo)
    for args in (
        ("detect", fifo),
        ("detect", "/dev/zero"),
        ("detect", tmp_path),
        ("compare", fifo, CPP),
        ("compare", "/dev/zero", CPP),
        ("trace", SAMPLE, "--out", tmp_path / "missing" / "t.json"),
        ("detect", SAMPLE, "--models", "/dev/null"),
    ):
        assert_contract(cli(*args, timeout=30))
    f = tmp_path / "file"
    f.write_text("x")
    assert_contract(cli("batch", SAMPLE, "--out", f, "--workers", "1"))


def test_unreachable_scheduler_is_one_line(tmp_path):
    require_dask()
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    line = assert_contract(
        cli("batch", SAMPLE, "--out", tmp_path / "o", "--scheduler", f"tcp://127.0.0.1:{port}", timeout=90)
    )
    assert "127.0.0.1" in line or "Timed out" in line or "connect" in line.lower()


def test_csv_errors_never_echo_the_file():
    with pytest.raises(mc.TraceFormatError) as e:
        load_any(b"x,y,w,h,confidence\n1,2,3,SECRET-TOKEN,0.9\n")
    assert "SECRET" not in str(e.value) and "line 2" in str(e.value)


def test_big_csv_is_parsed_in_bounded_memory(tmp_path):
    p = tmp_path / "big.csv"
    row = b"1234.5678,2345.6789,345.678,456.789,0.987654\n"
    p.write_bytes(b"x,y,w,h,confidence\n" + row * 199_000)  # 9 MB, 199k boxes
    res = run_bounded(
        "t = mc.trace.load_any(sys.argv[1])\nprint(json.dumps({'n': len(t.detections), 'peak_mb': _peak_mb()}))",
        args=(p,),
    )
    assert res.get("n") == 199_000 and res["peak_mb"] < 250, res
    p.write_bytes(b"x,y,w,h,confidence\n" + row * 200_001)
    with pytest.raises(mc.TraceFormatError, match="rows"):
        load_any(p)


def _npz(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _npy_header(shape, descr="<f4") -> bytes:
    b = io.BytesIO()
    np.lib.format.write_array_header_1_0(b, {"descr": descr, "fortran_order": False, "shape": shape})
    return b.getvalue()


def test_npz_bomb_is_refused_before_decompressing():
    trace = mc.Trace.load(CPP, heatmaps=None)
    s0 = trace.scales[0]
    bomb = _npy_header((40000, 10000)) + b"\x00" * 400_000_000  # 400 MB, deflated to ~400 KB
    data = _npz({"pnet_prob_0.npy": bomb, "unused.npy": b"\x00" * 50_000_000})
    assert len(data) < 1_000_000
    code = (
        "t = mc.Trace.load(sys.argv[1], heatmaps=None)\n"
        "try:\n    mc.trace.attach_heatmaps(t, open(sys.argv[2], 'rb').read()); r = 'accepted'\n"
        "except mc.TraceFormatError as e:\n    r = str(e)\n"
        "print(json.dumps({'r': r, 'peak_mb': _peak_mb()}))"
    )
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".npz") as f:
        f.write(data)
        f.flush()
        res = run_bounded(code, args=(CPP, f.name))
    assert "declares" in res["r"] and f"{s0.heatmap_height}x{s0.heatmap_width}" in res["r"], res
    assert res["peak_mb"] < 200, res
    # a right-sized map with a lying header is refused from the header, not after reading
    data = _npz({"pnet_prob_0.npy": _npy_header((s0.heatmap_height + 1, s0.heatmap_width)) + b"\x00" * 16})
    with pytest.raises(mc.TraceFormatError, match="the trace says"):
        mc.trace.attach_heatmaps(trace, data)


def test_compare_pairs_8000_boxes_in_bounded_memory():
    res = run_bounded(
        "import numpy as np\nfrom mtcnn_core.trace import BoxSet, Trace\n"
        "rng = np.random.default_rng(0)\n"
        "def t(b):\n"
        "    return Trace('x', {}, {}, None, None, None, None, None, BoxSet(b, np.ones(len(b), np.float32)))\n"
        "a = (rng.random((8000, 4)) * [4000, 4000, 60, 60] + [0, 0, 20, 20]).astype(np.float32)\n"
        "b = a[rng.permutation(8000)] + np.float32(0.5)\n"
        "rep = mc.compare(t(a), t(b))\n"
        "print(json.dumps({'pairs': len(rep.stage('detections').pairs), 'peak_mb': _peak_mb()}))"
    )
    assert res.get("pairs", 0) > 7000 and res["peak_mb"] < 400, res


def test_chunked_pairing_matches_the_whole_matrix_greedy():
    rng = np.random.default_rng(1)

    def whole(rb, cb, min_iou=0.3):  # the previous implementation, O(n*m) memory
        ious = C.iou_matrix(rb, cb)
        pairs, ur, uc = [], set(), set()
        for flat in np.argsort(-ious, axis=None, kind="stable"):
            i, j = divmod(int(flat), ious.shape[1])
            if ious[i, j] < min_iou:
                break
            if i not in ur and j not in uc:
                ur.add(i), uc.add(j), pairs.append((i, j, float(ious[i, j])))
        return sorted(pairs)

    saved = C.IOU_BLOCK
    try:
        for k in range(30):
            n, m = rng.integers(1, 200, 2)
            a = (rng.integers(0, 40, (n, 4)) + 1).astype(np.float32)
            b = a[rng.permutation(n)][:m] if k % 3 == 0 else (rng.integers(0, 40, (m, 4)) + 1).astype(np.float32)
            C.IOU_BLOCK = int(rng.integers(1, 3000))
            got = C.pair_boxes(BoxSet(a, np.zeros(n, np.float32)), BoxSet(b, np.zeros(len(b), np.float32)))
            assert got == whole(a.astype(np.float64), b.astype(np.float64)), k
    finally:
        C.IOU_BLOCK = saved


@pytest.mark.parametrize("position", range(5))
def test_build_models_unpickles_every_payload_restricted(tmp_path, position):
    """Each of the five pickles of a legacy torch file (magic, protocol, sys info, state dict,
    storage keys) carrying a code-running payload is refused; the payload never runs."""
    import pickle

    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import build_models
    finally:
        sys.path.remove(str(ROOT / "tools"))
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    parts = [0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001}, {}, []]
    parts[position] = Evil()
    data = b"".join(pickle.dumps(x, protocol=2) for x in parts)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        build_models.load_legacy_state_dict(data)
    assert not marker.exists()
