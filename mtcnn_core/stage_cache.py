"""The process's cache of cascade stage results, keyed by exactly the inputs each stage reads.

`detect()` asks it for: a pyramid level's PNet maps (image, models, arithmetic, level size), a
level's proposals and per-scale NMS (+ scale, t1), the cross-scale NMS (+ every level, t1), and
RNet/ONet outputs per input box (image, models, arithmetic, the box's integer crop rectangle:
each box's output does not depend on the batch it ran in). A threshold change then re-runs only
thresholding and NMS; a min face change re-runs only the levels whose size is new.

Keys are content digests (image pixels, model file SHA-256s), never names, so sessions and
threads share results safely. Memory is bounded by an LRU byte budget (`configure`).
Cached arrays are made read-only: a Trace built from them must not be modified in place.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict

import numpy as np

#: Default byte budget of the cache (MTCNN_STAGE_CACHE_MB overrides; 0 disables it).
DEFAULT_MAX_BYTES = int(float(os.environ.get("MTCNN_STAGE_CACHE_MB", "256")) * 2**20)
#: Bookkeeping bytes charged per entry on top of its arrays.
ENTRY_OVERHEAD = 256


class StageCache:
    """A thread-safe LRU of stage results bounded by a byte budget."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict = OrderedDict()  # key -> (value, nbytes)
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key):
        """The cached value or None (a hit moves the entry to the recent end)."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key, value, nbytes: int | None = None):
        """Store value (arrays frozen read-only); evict least recently used entries over budget."""
        size = (nbytes if nbytes is not None else size_of(value)) + ENTRY_OVERHEAD
        if size > self.max_bytes:
            return value
        freeze(value)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, n) = self._items.popitem(last=False)
                self._bytes -= n
        return value

    def clear(self):
        with self._lock:
            self._items.clear()
            self._bytes = 0
            self.hits = self.misses = 0

    def stats(self) -> dict:
        with self._lock:
            return {
                "entries": len(self._items),
                "bytes": self._bytes,
                "max_bytes": self.max_bytes,
                "hits": self.hits,
                "misses": self.misses,
            }


def size_of(value) -> int:
    """Bytes of the numpy arrays reachable from value (tuples, lists, dicts, dataclasses)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (tuple, list)):
        return sum(size_of(v) for v in value)
    if isinstance(value, dict):
        return sum(size_of(v) for v in value.values())
    if hasattr(value, "__dataclass_fields__"):
        return sum(size_of(getattr(value, f)) for f in value.__dataclass_fields__)
    return 0


def freeze(value):
    """Make every reachable array read-only (shared between traces, so never edited in place)."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, (tuple, list)):
        for v in value:
            freeze(v)
    elif isinstance(value, dict):
        for v in value.values():
            freeze(v)
    elif hasattr(value, "__dataclass_fields__"):
        for f in value.__dataclass_fields__:
            freeze(getattr(value, f))


def image_digest(image: np.ndarray) -> str:
    """Content key of an (H, W, 3) uint8 image: shape + BLAKE2b of its pixels."""
    h = hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=16)
    return f"{image.shape[0]}x{image.shape[1]}:{h.hexdigest()}"


def models_digest(models) -> str:
    """Content key of a ModelSet: its three files' SHA-256 (the weights it was parsed from)."""
    return "|".join(f"{n}={models.sha256[n]}" for n in sorted(models.sha256))


_cache = StageCache()


def stage_cache() -> StageCache:
    """The process-wide cache every detect() shares."""
    return _cache


def configure(max_bytes: int) -> StageCache:
    """Set the byte budget (0 disables caching); entries over it are evicted now."""
    global _cache
    _cache = StageCache(max_bytes)
    return _cache
