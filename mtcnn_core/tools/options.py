"""Command-line option values shared by the subcommands (cli's and batch's)."""

from __future__ import annotations


def threads_arg(threads) -> int:
    """--threads, defaulting to all cores; refuses counts below 1."""
    from ..kernels import MAX_THREADS

    if threads is None:
        return MAX_THREADS
    if threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    return threads
