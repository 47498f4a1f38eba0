"""Images without their metadata, for the lake (`strip_metadata`).

Does an image carry metadata? Read from its chunk and segment headers, no decoding.
The lake must hold no EXIF, GPS, text or XMP. Re-encoding every image removes them, but
costs a decode and an encode per file (and JPEG quality). A PNG or JPEG whose every
chunk or segment is one that only describes pixels can be stored as it arrived. Anything
else, or anything this reader does not follow, is re-encoded: the lists below are what
is allowed, never what is refused.
"""

from __future__ import annotations

import io
import struct

from PIL import Image

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
_JPEG_EOI = 0xD9
_JPEG_RST0, _JPEG_RST7 = 0xD0, 0xD7
_JPEG_APP0 = 0xE0


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
    """Walk every segment to the end-of-image marker, which must end the file."""
    at, end, in_scan = 2, len(data), False
    while at < end:
        if in_scan:  # entropy-coded data: 0xFF is stuffed (FF00), a restart, or a marker
            at = data.find(b"\xff", at)
            if at < 0 or at + 1 >= end:
                return False  # no end-of-image marker
            follower = data[at + 1]
            if follower == 0x00 or _JPEG_RST0 <= follower <= _JPEG_RST7:
                at += 2
                continue
            in_scan = False
        if data[at] != 0xFF or at + 1 >= end:
            return False
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker == _JPEG_EOI:
            return at + 2 == end  # nothing hidden after the end
        if at + 4 > end:
            return False
        (length,) = struct.unpack_from(">H", data, at + 2)
        if length < 2 or at + 2 + length > end:
            return False
        segment = data[at + 4 : at + 2 + length]
        if marker == _JPEG_SOS:
            in_scan = True
        elif marker == _JPEG_APP0:
            if not _plain_jfif(segment):
                return False
        elif marker not in _JPEG_TABLES and marker not in _JPEG_FRAMES:
            return False  # APPn (EXIF, XMP, ...), COM, or a marker this reader does not follow
        at += 2 + length
    return False


def _plain_jfif(segment: bytes) -> bool:
    """A JFIF header with no thumbnail: identifier, version, units, densities, 0x0."""
    return len(segment) == 14 and segment.startswith(b"JFIF\x00") and segment[12:14] == b"\x00\x00"


_SAVE_FORMATS = {
    "JPEG": "jpg",
    "PNG": "png",
    "BMP": "bmp",
    "TIFF": "tiff",
    "WEBP": "webp",
    "GIF": "gif",
}


def strip_metadata(data: bytes) -> tuple[bytes, str]:
    """The image without EXIF, GPS or other metadata; returns (bytes, extension).
    Re-encoded, unless it holds nothing but pixels already (then as it arrived)."""
    extension = pixels_only(data)
    if extension is not None:
        return data, extension
    with Image.open(io.BytesIO(data)) as image:
        fmt = image.format if image.format in _SAVE_FORMATS else "PNG"
        # A plain copy of the pixels (and palette): not the file's own object, whose
        # plugin would carry comments, XMP or IPTC over, and no info but transparency.
        clean = image.copy()
        clean.info = {k: v for k, v in image.info.items() if k == "transparency"}
    out = io.BytesIO()
    try:
        clean.save(out, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    except (OSError, ValueError, KeyError):  # a mode the format cannot write back
        out, fmt = io.BytesIO(), "PNG"
        clean.convert("RGBA" if "A" in clean.getbands() else "RGB").save(out, format="PNG")
    return out.getvalue(), _SAVE_FORMATS[fmt]
