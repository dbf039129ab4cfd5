"""Hostile inputs built in memory (small on disk) and a runner that executes code in a child
process under an address-space limit, so a regression fails a test instead of the machine."""

from __future__ import annotations

import json
import resource
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
AS_LIMIT = 1536 << 20  # the child's address space: about 3x an idle mtcnn_core process

CHILD_PRELUDE = """
import json, resource, sys
sys.path.insert(0, {root!r})
import mtcnn_core as mc
def _peak_mb():
    # VmHWM: this process's own peak resident memory (ru_maxrss would include the parent's
    # peak from before the fork+exec on Linux)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
"""


def run_bounded(body: str, timeout: float = 60, as_limit: int = AS_LIMIT, args=()) -> dict:
    """Run `body` (after CHILD_PRELUDE) in a child limited to `as_limit` bytes of address space.
    The body prints one JSON line; returns it parsed plus 'rc' and 'stderr'."""

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (as_limit, as_limit))

    code = CHILD_PRELUDE.format(root=str(ROOT)) + body
    p = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit,
        cwd=ROOT,
    )
    out = p.stdout.strip().splitlines()
    res = json.loads(out[-1]) if out and out[-1].startswith("{") else {}
    return {**res, "rc": p.returncode, "stderr": p.stderr}


DECODE_BODY = """
import mtcnn_core.images as images
if len(sys.argv) > 2 and sys.argv[2] == "fooled":
    images.declared_size = lambda data: None      # a header parser that misreads everything
data = open(sys.argv[1], "rb").read()
try:
    dec = mc.decode_image(data)
    print(json.dumps({"ok": True, "shape": list(dec.image.shape), "peak_mb": _peak_mb()}))
except mc.ImageError as e:
    print(json.dumps({"ok": False, "error": str(e), "peak_mb": _peak_mb()}))
"""


# ---- image bombs ------------------------------------------------------------------------------
def _small_jpeg() -> bytearray:
    img = np.full((16, 16, 3), 128, np.uint8)
    return bytearray(cv2.imencode(".jpg", img)[1].tobytes())


def jpeg_fill_byte(w=30000, h=30000) -> bytes:
    """A JPEG whose SOF (declaring w x h) follows a 0xFF fill byte, with a decoy small size in a
    COM segment shaped like a SOF."""
    data = _small_jpeg()
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", h, w)
    decoy = b"\xff\xc0\x00\x11\x08\x00\x10\x00\x10\x03"
    com = b"\xff\xfe" + struct.pack(">H", len(decoy) + 2) + decoy
    return bytes(data[:sof] + com + b"\xff" + data[sof:])


def hdr_hidden_size(w=30000, h=30000, comment_lines=2000) -> bytes:
    """Radiance HDR whose resolution line comes after many header comment lines."""
    head = b"#?RADIANCE\n" + b"# padding comment line\n" * comment_lines
    return head + b"FORMAT=32-bit_rle_rgbe\n\n-Y %d +X %d\n" % (h, w) + b"\x02\x02\x75\x30" * 16


def _ifd(entries: list, next_ifd: int = 0) -> bytes:
    entries = sorted(entries)
    out = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        out += struct.pack("<HHI", tag, typ, count) + value
    return out + struct.pack("<I", next_ifd)


def _short(v):
    return struct.pack("<HH", v, 0)


def _long(v):
    return struct.pack("<I", v)


def tiff_bomb(layout: str, w=30000, h=30000) -> bytes:
    """A little-endian TIFF declaring w x h with a tiny (truncated) strip or tile, in a layout
    Pillow may not open: float RGB, 16-bit planar RGBA, tiled RGB, 1-bit min-is-white, deflate."""
    spp, bits, fmt, planar, tiled, comp, photometric = {
        "float-rgb": (3, 32, 3, 1, False, 1, 2),
        "u16-rgba-planar": (4, 16, 1, 2, False, 1, 2),
        "tiled-rgb": (3, 8, 1, 1, True, 1, 2),
        "bilevel": (1, 1, 1, 1, False, 1, 0),
        "deflate-rgb": (3, 8, 1, 1, False, 8, 2),
        "int32-grey": (1, 32, 2, 1, False, 1, 1),
    }[layout]
    payload = zlib.compress(b"\x00" * 4096) if comp == 8 else b"\x00" * 256
    ifd_at, extra_at = 8, 8 + 2 + 12 * 16 + 4
    bits_v = _long(extra_at) if spp > 2 else struct.pack("<HH", bits, bits if spp == 2 else 0)
    fmt_v = _long(extra_at + 2 * spp) if spp > 2 else struct.pack("<HH", fmt, 0)
    extra = struct.pack("<%dH" % spp, *([bits] * spp)) + struct.pack("<%dH" % spp, *([fmt] * spp))
    data_at = extra_at + len(extra)
    e = [
        (256, 4, 1, _long(w)),
        (257, 4, 1, _long(h)),
        (258, 3, spp, bits_v),
        (259, 3, 1, _short(comp)),
        (262, 3, 1, _short(photometric)),
        (277, 3, 1, _short(spp)),
        (284, 3, 1, _short(planar)),
        (339, 3, spp, fmt_v),
    ]
    if spp == 4:
        e.append((338, 3, 1, _short(2)))
    if tiled:
        e += [
            (322, 3, 1, _short(256)),
            (323, 3, 1, _short(256)),
            (324, 4, 1, _long(data_at)),
            (325, 4, 1, _long(len(payload))),
        ]
    else:
        e += [(273, 4, 1, _long(data_at)), (278, 4, 1, _long(1)), (279, 4, 1, _long(len(payload)))]
    body = _ifd(e)
    body += b"\x00" * (extra_at - ifd_at - len(body))
    return b"II*\x00" + _long(ifd_at) + body + extra + payload


TIFF_LAYOUTS = ("float-rgb", "u16-rgba-planar", "tiled-rgb", "bilevel", "deflate-rgb", "int32-grey")


def tiff_many_ifds(n=65_000) -> bytes:
    """A TIFF of n chained 1x1 grey pages (counting its pages naively is quadratic)."""
    size = 2 + 12 * 8 + 4
    out = [b"II*\x00" + _long(8)]
    for i in range(n):
        at = 8 + i * (size + 4)
        nxt = at + size + 4 if i + 1 < n else 0
        e = [
            (256, 4, 1, _long(1)),
            (257, 4, 1, _long(1)),
            (258, 3, 1, _short(8)),
            (259, 3, 1, _short(1)),
            (262, 3, 1, _short(1)),
            (273, 4, 1, _long(at + size)),
            (278, 4, 1, _long(1)),
            (279, 4, 1, _long(1)),
        ]
        out.append(_ifd(e, nxt) + b"\x80\x00\x00\x00")
    return b"".join(out)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(w: int, h: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def ico_with_png(w=40000, h=40000) -> bytes:
    """An ICO whose directory says 256x256 while its embedded PNG declares w x h."""
    png = png_declaring(w, h)
    entry = struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(png), 6 + 16)
    return struct.pack("<HHH", 0, 1, 1) + entry + png


IMAGE_BOMBS = {
    "jpeg-fill-byte": jpeg_fill_byte,
    "hdr-hidden-size": hdr_hidden_size,
    "png-100000x100000": lambda: png_declaring(100_000, 100_000),
    "ico-png": ico_with_png,
    **{f"tiff-{k}": (lambda k=k: tiff_bomb(k)) for k in TIFF_LAYOUTS},
}
