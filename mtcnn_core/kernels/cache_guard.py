"""Keep numba's on-disk kernel cache true to the sources it was compiled from.

numba checks a cached function against its own source file only, yet compiled code also holds what
it took from sibling modules: the kernels inline the intrinsics of `lanes` and `borrowed`, and
they freeze `openblas`'s constants. So an edit to one of those (a developer's, or an upgrade
that leaves the kernel's own file as it was) would leave stale kernels running.
`drop_stale` removes every cached kernel of the given modules when any of their sources changed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

MARKER = "mtcnn_kernels.sources"


def drop_stale(cache_dir: str, modules) -> bool:
    """Delete the cached kernels (*.nbi, *.nbc) of `modules` in cache_dir unless the marker there
    records the current sources; returns True if anything was stale. Never raises on I/O."""
    names = {m.__name__.rsplit(".", 1)[-1] for m in modules}
    digest = hashlib.sha256()
    try:
        for module in sorted(modules, key=lambda m: m.__name__):
            digest.update(Path(module.__file__).read_bytes())
    except OSError:  # sources not readable (a zipped install): nothing to compare against
        return False
    stamp = digest.hexdigest()
    marker = Path(cache_dir) / MARKER
    try:
        if marker.read_text() == stamp:
            return False
    except OSError:
        pass
    try:
        for f in Path(cache_dir).glob("*.nb[ic]"):
            if f.name.split(".", 1)[0] in names:
                f.unlink(missing_ok=True)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(stamp)
    except OSError:  # a read-only cache: numba's own per-file check is all there is
        pass
    return True
