"""Which server folders the app may read (the Dataset page's batch, image and C++ folders).

Only paths inside the configured data roots are read. Roots come from the environment variable
MTCNN_LENS_DATA_ROOTS (folders separated by os.pathsep; empty = none). Without it, the default is
the project's own `out/` folder when the server listens on loopback only, and no folder at all when
it is served to other machines. Everything outside gets one message, whether or not it exists.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "MTCNN_LENS_DATA_ROOTS"
DEFAULT_ROOT = Path(__file__).resolve().parents[1] / "out"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
REFUSED = f"This folder is not available: the server reads batch folders only inside its configured data roots ({ENV})."


def server_address() -> str:
    """Streamlit's server.address ('' when unset, i.e. every interface)."""
    try:
        import streamlit as st

        return str(st.get_option("server.address") or "")
    except Exception:
        return ""


def serving_remotely(address: str | None = None) -> bool:
    """True unless the server listens on loopback only."""
    return (server_address() if address is None else address) not in LOOPBACK


def configured_roots(address: str | None = None) -> list[Path]:
    """The resolved data roots (may be empty: then no server folder is readable)."""
    raw = os.environ.get(ENV)
    if raw is not None:
        return [Path(p).expanduser().resolve() for p in raw.split(os.pathsep) if p.strip()]
    return [] if serving_remotely(address) else [DEFAULT_ROOT.resolve()]


def inside(path: Path, roots: list[Path]) -> bool:
    """Whether `path`, with every symlink resolved, is one of the roots or inside one."""
    try:
        real = Path(path).resolve()
    except (OSError, RuntimeError):
        return False
    return any(real == r or real.is_relative_to(r) for r in roots)


def resolve_in_roots(text: str, roots: list[Path]) -> Path | None:
    """The folder `text` names (relative: to the first root), resolved, or None if it is outside
    every root (whether or not it exists: the caller shows REFUSED for both)."""
    p = Path(text.strip())
    if str(p).startswith("~"):
        return None
    if not p.is_absolute():
        if not roots:
            return None
        p = roots[0] / p
    try:
        real = p.resolve()
    except (OSError, RuntimeError):
        return None
    return real if inside(real, roots) else None
