"""Setting up a worker process: single-threaded maths, glibc keeping freed memory, exit with the parent."""

from __future__ import annotations

import os
import time

_worker_ready = False


def keep_freed_memory():
    """Ask glibc to keep freed memory for reuse instead of trimming/unmapping it at once.

    Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, so every large numpy temporary
    page-faults afresh (measured ~20 % slower per image); raising the trim and mmap thresholds
    with mallopt undoes that however the worker was started. No-op off glibc.
    """
    import ctypes

    try:
        libc = ctypes.CDLL(None)  # the running process: its libc (find_library would spawn ldconfig)
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_trim_threshold, 1 << 30)
        libc.mallopt(m_mmap_threshold, 1 << 29)
    except (OSError, AttributeError):
        pass


def exit_with_parent():
    """Make this worker process end when the process that started it dies (killed or crashed):
    the kernel's parent-death signal on Linux, and a watcher thread on the parent pid anywhere."""
    import threading

    parent = os.getppid()
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # died before the signal was set
        os._exit(1)

    def watch():
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _init_worker():
    """Single-threaded maths in each worker: parallelism comes from processes, not threads."""
    global _worker_ready
    if not _worker_ready:
        exit_with_parent()
        keep_freed_memory()
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
        from ...engine_info import set_blas_threads

        set_blas_threads(1)  # a forked worker inherits the parent's already-started BLAS
        _worker_ready = True
