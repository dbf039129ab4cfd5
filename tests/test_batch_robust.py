"""A batch that loses nothing: unique output names, content-keyed resume, a killed worker, a
killed parent, and a full disk (each with real files and real processes)."""

import csv
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
from conftest import ROOT

SAMPLE = cv2.imread(str(ROOT / "sample_images" / "grace_hopper.jpg"))


def image(path: Path, variant: int = 0, size: int = 160):
    """A real photo crop, distinct per variant (so contents differ)."""
    im = cv2.resize(SAMPLE, (size, size * 600 // 512))
    im[0, 0] = (variant * 37) % 256
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), im)
    return path


def batch(*args, **kw):
    return subprocess.run(
        [sys.executable, "-m", "mtcnn_core", "batch", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=kw.pop("timeout", 300),
        **kw,
    )


def rows(out: Path) -> list:
    return list(csv.DictReader((out / "summary.csv").open()))


def test_every_input_gets_its_own_outputs(tmp_path):
    a, b = tmp_path / "A", tmp_path / "B"
    files = [
        image(a / "a.png", 1),
        image(a / "a.jpg", 2),
        image(a / "x.jpg", 3),
        image(a / "x.row.png", 4),
        image(b / "a.jpg", 5),
    ]
    out = tmp_path / "out"
    r = batch(a, b, "--out", out, "--workers", "1")
    assert r.returncode == 0, r.stderr
    got = rows(out)
    assert len(got) == 5 and not any(x["error"] for x in got)
    traces = [
        json.loads(p.read_text()) for p in out.glob("*.json") if not p.name.endswith((".row.json", ".compare.json"))
    ]
    import hashlib

    want = {hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    assert {t["image"]["sha256"] for t in traces} == want  # none overwrote another
    assert len(list(out.glob("*.row.json"))) == 5
    assert (out / "x.json").is_file() and (out / "x.row.png.json").is_file()
    r = batch(a, b, "--out", out, "--workers", "1")  # all finished: all skipped
    assert r.returncode == 0 and "0.00 images/s" in r.stderr.replace("\r", "\n").splitlines()[-2]


def test_changed_input_is_redone_on_resume(tmp_path):
    src = tmp_path / "in"
    first = image(src / "p.png", 1)
    image(src / "q.png", 2)
    out = tmp_path / "out"
    assert batch(src, "--out", out, "--workers", "1").returncode == 0
    before = (out / "q.json").stat().st_mtime_ns
    image(first, 9)  # same name, new content
    import hashlib

    assert batch(src, "--out", out, "--workers", "1").returncode == 0
    trace = json.loads((out / "p.json").read_text())
    assert trace["image"]["sha256"] == hashlib.sha256(first.read_bytes()).hexdigest()
    assert (out / "q.json").stat().st_mtime_ns == before  # unchanged: skipped


def _children(pid: int) -> list:
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(d.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


MANY = 24


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    # enough work that the batch is still running when a worker is killed (the compiled kernels
    # run a 512 px image at min face 20 in ~50 ms)
    src = tmp_path_factory.mktemp("many")
    for i in range(MANY):
        image(src / f"img{i:02d}.png", i, size=1024)
    return src


def _start(src, out):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mtcnn_core",
            "batch",
            str(src),
            "--out",
            str(out),
            "--workers",
            "2",
            "--min-face-size",
            "20",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_workers(proc, n=2, timeout=60) -> list:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        kids = [k for k in _children(proc.pid) if _alive(k)]
        if len(kids) >= n:
            return kids
        time.sleep(0.05)
    raise AssertionError("workers did not start")


def test_killed_worker_loses_no_image(many, tmp_path):
    out = tmp_path / "out"
    proc = _start(many, out)
    try:
        kids = _wait_for_workers(proc)
        time.sleep(0.3)
        assert proc.poll() is None, "the batch ended before a worker could be killed"
        os.kill(kids[0], signal.SIGKILL)
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    got = rows(out)
    assert len(got) == MANY and not any(r["error"] for r in got), got
    assert "Traceback" not in err


def test_killing_the_parent_leaves_no_worker_behind(many, tmp_path):
    proc = _start(many, tmp_path / "out")
    kids = _wait_for_workers(proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(k) for k in kids):
        time.sleep(0.1)
    left = [k for k in kids if _alive(k)]
    for k in left:  # clean up before failing (only our own children)
        os.kill(k, signal.SIGKILL)
    assert not left


def _full_disk(limit):
    def pre():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return pre


def test_full_disk_keeps_finished_rows_and_leaves_no_tmp(tmp_path):
    src = tmp_path / "in"
    image(src / "a_small.png", 1, size=40)  # no face at 40 px: a small trace
    image(src / "b_big.png", 2, size=512)  # faces, many proposals: a trace over the limit
    out = tmp_path / "out"
    r = batch(src, "--out", out, "--workers", "1", "--min-face-size", "20", preexec_fn=_full_disk(20_000))
    assert r.returncode == 2, r.stderr[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "b_big.png" in last and "Traceback" not in r.stderr
    assert [x["file"] for x in rows(out)] == ["a_small.png"]
    assert (out / "a_small.row.json").is_file() and not (out / "b_big.row.json").exists()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


KEEP_PROBE = """
import sys, numpy as np
from mtcnn_core.tools.batch.worker import keep_freed_memory
if sys.argv[1] == "keep":
    keep_freed_memory()
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 >> 20
a = np.ones(64 << 20, np.uint8)  # 64 MiB, every page touched
del a
print(rss())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc" or not os.path.exists("/proc/self/statm"), reason="glibc, /proc")
def test_workers_keep_freed_memory_for_the_next_image():
    """keep_freed_memory: a freed 64 MiB temporary stays mapped for reuse (no fresh page faults in
    the next image); by default glibc returns it to the system at once."""

    def rss_after(mode):
        r = subprocess.run(
            [sys.executable, "-c", KEEP_PROBE, mode], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 0, r.stderr
        return int(r.stdout)

    assert rss_after("keep") >= rss_after("default") + 48


def test_a_fresh_workers_first_task_warms_it_and_freezes_the_collector(tmp_path):
    """A dask worker inherits nothing: its first task runs warm_process (kernels, lazy imports),
    which ends with gc.freeze(): a full pass over numba's and the models' objects cost ~55 ms in
    each process's first image."""
    path = image(tmp_path / "a.png", 3)
    probe = (
        "import gc, sys; from pathlib import Path; from mtcnn_core.tools.batch import task as T;"
        "opts = {'params': {}, 'engine': 'exact', 'models': None, 'heatmaps': False,"
        " 'tol_px': 0.01, 'tol_score': 1e-4};"
        "res = T.run_task(T.make_task(Path(sys.argv[1]), None, opts));"
        "print(res['row']['error'] or 'ok', gc.get_freeze_count(), len(gc.get_objects()))"
    )
    r = subprocess.run([sys.executable, "-c", probe, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    status, frozen, tracked = r.stdout.split()
    assert status == "ok"
    assert int(frozen) > 10 * int(tracked)
