"""The installable package: build a wheel, install it into a fresh venv offline, and use it from
another folder (`mtcnn-lens detect`, `models`, `--version`, `python -m mtcnn_core`, the app).

The venv sees the already-installed dependencies (--system-site-packages); the wheel itself is
installed with --no-index --no-deps, so nothing is fetched and only the wheel's files are used.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

pytestmark = pytest.mark.skipif(os.name != "posix", reason="venv layout and /proc checks are POSIX")


def run(argv, cwd, timeout=300, check=True):
    """Run with a clean environment (no PYTHONPATH pointing back at the checkout)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    r = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert r.returncode == 0, f"{argv}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh venv with the project's wheel installed; returns (bin folder, site-packages, elsewhere)."""
    base = tmp_path_factory.mktemp("pkg")
    wheels = base / "wheels"
    run([sys.executable, "-m", "pip", "wheel", ROOT, "--no-build-isolation", "--no-deps", "-q", "-w", wheels], cwd=base)
    (wheel,) = wheels.glob("mtcnn_lens-*.whl")
    env_dir = base / "venv"
    run([sys.executable, "-m", "venv", "--system-site-packages", env_dir], cwd=base)
    bindir = env_dir / "bin"
    run([bindir / "python", "-m", "pip", "install", "-q", "--no-index", "--no-deps", wheel], cwd=base)
    site = Path(
        run(
            [bindir / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=base
        ).stdout.strip()
    )
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    return bindir, site, elsewhere


def test_core_is_imported_from_the_installed_wheel(venv):
    bindir, site, elsewhere = venv
    out = run(
        [bindir / "python", "-c", "import mtcnn_core as m; print(m.__file__); print(m.BUNDLED_DIR)"], cwd=elsewhere
    ).stdout.split()
    assert Path(out[0]).is_relative_to(site) and Path(out[1]) == site / "mtcnn_core" / "models"


def test_detect_from_another_folder(venv):
    bindir, site, elsewhere = venv
    image = site / "mtcnn_lens" / "sample_images" / "grace_hopper.jpg"
    r = run([bindir / "mtcnn-lens", "detect", image, "--json"], cwd=elsewhere)
    dets = json.loads(r.stdout)["detections"]
    assert len(dets) == 1 and dets[0][4] > 0.99
    # the bundled C++ reference of that image gives the same final box, bit for bit
    cpp = json.loads((site / "mtcnn_lens" / "sample_images" / "cpp" / "grace_hopper.json").read_text())
    assert np.array_equal(np.float32(dets), np.float32(cpp["detections"]))
    r = run([bindir / "python", "-m", "mtcnn_core", "detect", image], cwd=elsewhere)
    assert r.stdout.startswith("1 face(s)")


def test_version_and_models(venv):
    bindir, site, elsewhere = venv
    version = run([bindir / "mtcnn-lens", "--version"], cwd=elsewhere).stdout.split()
    expected = run(
        [bindir / "python", "-c", "import mtcnn_core; print(mtcnn_core.__version__)"], cwd=elsewhere
    ).stdout.strip()
    assert version == ["mtcnn-lens", expected]
    r = run([bindir / "mtcnn-lens", "models", "--verify"], cwd=elsewhere)
    assert r.stdout.count("= OpenFace 2.2.0") == 3 and str(site / "mtcnn_core" / "models") in r.stdout
    r = run([bindir / "mtcnn-lens", "models", "--models", elsewhere], cwd=elsewhere, check=False)
    assert r.returncode == 2 and r.stderr.startswith("error:") and "Traceback" not in r.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_addresses(port: int) -> set:
    """Local IPv4/IPv6 addresses (hex, as in /proc/net/tcp*) with a socket listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.split(":")
            if state == "0A" and int(p, 16) == port:
                found.add(addr)
    return found


def test_app_serves_health_on_localhost(venv):
    bindir, site, elsewhere = venv
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    proc = subprocess.Popen(
        [str(bindir / "mtcnn-lens"), "app", "--port", str(port)],
        cwd=elsewhere,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body, deadline = None, time.monotonic() + 90
        while body is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as r:
                    body = r.read().decode()
            except OSError:
                time.sleep(0.5)
        assert body == "ok", f"no health answer; exit code {proc.poll()}"
        if Path("/proc/net/tcp").exists():
            assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert proc.returncode is not None
    assert "Traceback" not in out, out


APPTEST = """
import sys
from pathlib import Path
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest
init = PagesManager.__init__
def v2(self, *a, **k):                # as tests/app/conftest.py: the real server's st.navigation mode
    init(self, *a, **k)
    PagesManager.uses_pages_directory = False
PagesManager.__init__ = v2
import mtcnn_core
app = Path(mtcnn_core.__file__).parent.parent / "mtcnn_lens" / "app.py"
at = AppTest.from_file(str(app), default_timeout=240).run()
import ui
print(repr([e.value for e in at.exception]))
print({m.label: m.value for m in at.metric}.get("final"))
print(ui.__file__)
"""


def test_installed_app_runs_detect_page(venv):
    """The installed app's Detect page, on its bundled default image, from the installed files."""
    bindir, site, elsewhere = venv
    out = run([bindir / "python", "-c", APPTEST], cwd=elsewhere).stdout.splitlines()
    exceptions, faces, ui_file = out[-3:]
    assert exceptions == "[]"
    assert int(faces) >= 1
    assert Path(ui_file).is_relative_to(site / "mtcnn_lens")
