"""Reading input files that someone else made: regular files only, never more than a cap.

A FIFO, a device (/dev/zero), a socket or a directory is refused before any byte is read (the
open itself does not block: O_NONBLOCK), and a file larger than `max_bytes` is refused from its
size, so reading can neither hang nor exhaust memory. Errors are OSError with a plain strerror.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

#: Default caps (bytes) per kind of input file.
MAX_IMAGE_BYTES = 256 << 20
MAX_TRACE_BYTES = 256 << 20
MAX_MODEL_BYTES = 64 << 20


def _refuse(path, why: str):
    err = OSError(errno.EINVAL, why)
    err.filename = str(path)
    raise err


def read_regular_file(path, max_bytes: int) -> bytes:
    """The bytes of `path` if it is a regular file of at most `max_bytes`; OSError otherwise."""
    path = Path(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            _refuse(path, "is a folder, not a file")
        if not stat.S_ISREG(st.st_mode):
            _refuse(path, "not a regular file (a pipe, device or socket is never read)")
        if st.st_size > max_bytes:
            _refuse(path, f"file is {st.st_size:,} bytes, over the limit of {max_bytes:,}")
        chunks, left = [], max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_bytes:
            _refuse(path, f"file grew over the limit of {max_bytes:,} bytes while being read")
        return data
    finally:
        os.close(fd)
