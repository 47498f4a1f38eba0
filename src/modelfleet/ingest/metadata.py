"""Does an image carry metadata? Read from its chunk and segment headers, no decoding.

The lake must hold no EXIF, GPS, text or XMP. Re-encoding every image removes them, but
costs a decode and an encode per file (and JPEG quality). A PNG or JPEG whose every
chunk or segment is one that only describes pixels can be stored as it arrived. Anything
else, or anything this reader does not follow, is re-encoded: the lists below are what
is allowed, never what is refused.
"""

from __future__ import annotations

import re
import struct

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Pixels, palette, transparency, colour space, resolution: no text, time, EXIF or ICC.
_PNG_PIXEL_CHUNKS = frozenset(
    {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"sBIT", b"pHYs",
     b"bKGD"}
)  # fmt: skip
# Markers that carry no metadata before the first scan: tables, frame and scan headers.
_JPEG_TABLES = frozenset({0xC4, 0xCC, 0xDB, 0xDD})  # DHT, DAC, DQT, DRI
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # SOF0..SOF15
_JPEG_SOS = 0xDA
_JPEG_APP0 = 0xE0
# After the first scan, entropy-coded bytes stuff every 0xFF with 0x00 (or carry RSTn),
# so an APPn or COM marker there is a real segment.
_JPEG_LATE_METADATA = re.compile(rb"\xff[\xe0-\xef\xfe]")


def pixels_only(data: bytes) -> str | None:
    """ "png" or "jpg" when the file holds nothing but pixels; None when it may hold
    metadata or is not a PNG or JPEG this reader follows."""
    if data.startswith(_PNG_SIGNATURE):
        return "png" if _png_pixels_only(data) else None
    if data.startswith(b"\xff\xd8"):
        return "jpg" if _jpeg_pixels_only(data) else None
    return None


def _png_pixels_only(data: bytes) -> bool:
    at = len(_PNG_SIGNATURE)
    while at + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, at)
        if kind not in _PNG_PIXEL_CHUNKS:
            return False
        if kind == b"IEND":
            return at + 12 + length == len(data)  # nothing hidden after the end
        at += 12 + length  # length, type, data, CRC
    return False


def _jpeg_pixels_only(data: bytes) -> bool:
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return False
        marker = data[at + 1]
        (length,) = struct.unpack_from(">H", data, at + 2)
        segment = data[at + 4 : at + 2 + length]
        if marker == _JPEG_SOS:
            return _JPEG_LATE_METADATA.search(data, at + 2 + length) is None
        if marker == _JPEG_APP0:
            if not segment.startswith(b"JFIF\x00"):  # JFXX carries a thumbnail
                return False
        elif marker not in _JPEG_TABLES and marker not in _JPEG_FRAMES:
            return False
        at += 2 + length
    return False
