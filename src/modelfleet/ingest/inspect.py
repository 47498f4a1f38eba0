"""Is a landed file an image we can classify? If not, the quarantine reason code."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

from PIL import Image, UnidentifiedImageError

from modelfleet.imaging import MAX_PIXELS

ReasonCode = Literal["zero_bytes", "too_large", "wrong_format", "decompression_bomb", "undecodable"]
FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP", "GIF")  # what cameras and scanners write


@dataclass(frozen=True)
class Problem:
    code: ReasonCode
    detail: str


def too_large(size: int, max_bytes: int) -> Problem | None:
    if size > max_bytes:
        return Problem("too_large", f"{size:,} bytes exceeds the limit of {max_bytes:,}")
    return None


def inspect_image(data: bytes, max_bytes: int) -> Problem | None:
    """None for a complete, decodable image of a known format within the limits."""
    if not data:
        return Problem("zero_bytes", "the file is empty")
    if problem := too_large(len(data), max_bytes):
        return problem
    try:
        probe = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        return Problem("decompression_bomb", str(exc))
    except UnidentifiedImageError:
        return Problem("wrong_format", f"not an image format ({', '.join(FORMATS)})")
    except Exception as exc:
        return Problem("undecodable", f"cannot read the image header: {exc}")
    with probe:
        if probe.format not in FORMATS:
            return Problem("wrong_format", f"{probe.format} is not one of {', '.join(FORMATS)}")
        if probe.width * probe.height > MAX_PIXELS:
            return Problem(
                "decompression_bomb",
                f"{probe.width}x{probe.height} pixels exceeds the limit of {MAX_PIXELS:,}",
            )
        try:
            probe.load()  # decodes every pixel: truncated or corrupt data fails here
        except Exception as exc:
            return Problem("undecodable", f"{probe.format} data is corrupt or truncated: {exc}")
    return None
