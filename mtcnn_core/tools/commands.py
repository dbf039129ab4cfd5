"""The `app` and `models` subcommands of `mtcnn-lens` / `python -m mtcnn_core`.

`app` starts the bundled Streamlit app in a new `python -m streamlit run` process (this package
never imports streamlit), bound to 127.0.0.1 with the app's own server settings. `models` shows a
model set's files and checks them against OpenFace 2.2.0's SHA-256.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tomllib
from pathlib import Path

DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 8501
LOOPBACK = ("127.0.0.1", "localhost", "::1")


# ---- app --------------------------------------------------------------------------------------
def add_app_parser(subparsers):
    """Register `app`; its handler is `cmd_app`."""
    p = subparsers.add_parser(
        "app",
        help="start the Streamlit app (local only by default)",
        description="Start the MTCNN Lens app with its bundled models and sample images.",
    )
    p.add_argument(
        "--address",
        default=DEFAULT_ADDRESS,
        help="address to listen on; anything but a loopback address exposes the app "
        "to the network (default: %(default)s)",
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (default: %(default)s)")
    p.add_argument(
        "--dry-run", action="store_true", help="print the streamlit command instead of running it (default: run it)"
    )
    p.add_argument(
        "streamlit_args",
        nargs=argparse.REMAINDER,
        help="further `streamlit run` options after `--`, e.g. -- --theme.base light (default: none)",
    )
    p.set_defaults(handler=cmd_app)
    return p


def app_dir() -> Path:
    """Folder of app.py: `mtcnn_lens/` beside mtcnn_core when installed, else the checkout root."""
    root = Path(__file__).resolve().parents[2]
    for folder in (root / "mtcnn_lens", root):
        if (folder / "app.py").is_file() and (folder / "pages").is_dir() and (folder / "ui").is_dir():
            return folder
    raise FileNotFoundError("the MTCNN Lens app (app.py, pages/, ui/) is not installed beside mtcnn_core")


def config_flags(config: Path) -> list:
    """The app's `.streamlit/config.toml` as `--section.key=value` flags (streamlit reads that
    file only from the current folder, so an installed app passes it explicitly)."""
    if not config.is_file():
        return []
    flags = []
    for section, values in tomllib.loads(config.read_text()).items():
        for key, value in values.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            flags.append(f"--{section}.{key}={text}")
    return flags


def app_command(address=DEFAULT_ADDRESS, port=DEFAULT_PORT, extra=()) -> list:
    """argv that runs the app: bundled settings, then address/port, then the caller's options."""
    folder = app_dir()
    extra = [x for x in extra if x != "--"]
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(folder / "app.py"),
        *config_flags(folder / ".streamlit" / "config.toml"),
        f"--server.address={address}",
        f"--server.port={port}",
        *extra,
    ]


def cmd_app(a) -> int:
    if not 0 < a.port < 65536:
        raise ValueError(f"--port must be in 1..65535, not {a.port}")
    if importlib.util.find_spec("streamlit") is None:
        raise ValueError("streamlit is not installed (pip install streamlit)")
    argv = app_command(a.address, a.port, a.streamlit_args)
    if a.address not in LOOPBACK:
        print(f"warning: listening on {a.address}: anyone who can reach this machine can use the app", file=sys.stderr)
    if a.dry_run:
        print(" ".join(argv))
        return 0
    sys.stdout.flush()
    if os.name == "posix":
        os.execv(sys.executable, argv)  # the server replaces this process: signals reach it
    return subprocess.call(argv)


# ---- models -----------------------------------------------------------------------------------
def add_models_parser(subparsers):
    """Register `models`; its handler is `cmd_models`."""
    p = subparsers.add_parser("models", help="show a model set and check it against OpenFace 2.2.0")
    p.add_argument(
        "--models", default=None, help="folder of PNet/RNet/ONet.dat or MTCNN_detector.txt (default: the bundled set)"
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="exit 1 unless every file is byte-identical to OpenFace 2.2.0's (default: off)",
    )
    p.set_defaults(handler=cmd_models)
    return p


def describe_models(models) -> list:
    """One line per network: file, size, SHA-256, OpenFace match, layer count."""
    lines = [f"model set: {models.folder}"]
    for name, path in models.files.items():
        match = "= OpenFace 2.2.0" if models.matches_openface[name] else "differs from OpenFace 2.2.0"
        lines.append(
            f"{name}  {Path(path).name}  {Path(path).stat().st_size} bytes  "
            f"{len(models.network(name).layers)} layers  sha256 {models.sha256[name]}  {match}"
        )
    return lines


def cmd_models(a) -> int:
    from ..models import load_models

    models = load_models(a.models)
    print("\n".join(describe_models(models)))
    same = all(models.matches_openface.values())
    print("all three files are OpenFace 2.2.0's" if same else "not OpenFace 2.2.0's set")
    return 1 if a.verify and not same else 0
