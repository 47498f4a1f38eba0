"""Image decoding and the one preprocessing function that training and serving share."""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from modelfleet.errors import DataError
from modelfleet.preprocessing import LEGACY, PreprocessPolicy

# Decompression-bomb guard: far above any inspection camera, far below a bomb.
MAX_PIXELS = 40_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def decode(data: bytes) -> Image.Image:
    """Decode image bytes fully, or raise DataError saying why not."""
    if not data:
        raise DataError("empty file")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            # PIL only warns between MAX_PIXELS and twice that; refuse before decoding.
            if probe.width * probe.height > MAX_PIXELS:
                raise DataError(
                    f"image too large: {probe.width}x{probe.height} pixels exceeds the "
                    f"limit of {MAX_PIXELS:,} (decompression bomb?)"
                )
            probe.verify()
        image = Image.open(io.BytesIO(data))
        image.load()
    except Image.DecompressionBombError as exc:
        raise DataError(f"image too large: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"not a decodable image: {exc}") from None
    return image


def channels_of(image: Image.Image) -> int:
    return len(image.getbands())


# Modes `to_model_input` converts (every mode Pillow decodes a file to); validation's
# `shape` check holds a decoded file to them, since any size fits after preprocessing.
PREPROCESSABLE_MODES = (
    "1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr",
    "LAB", "HSV", "I", "I;16", "I;16B", "I;16L", "I;16N", "F",
)  # fmt: skip
_HIGH_DEPTH = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")
_WITH_ALPHA = ("LA", "La", "PA", "RGBa")  # besides RGBA, and a palette with a transparent entry
_EXIF_ORIENTATION = 0x0112


def to_model_input(
    image: Image.Image,
    input_shape: tuple[int, int, int],
    policy: PreprocessPolicy = LEGACY,
) -> np.ndarray:
    """Convert any image to the model's input, the same at train, evaluate and serve time.

    In order: the EXIF orientation is applied; 16-bit (and 32-bit) grey is scaled down
    to 8 bits; palette, CMYK and other modes become RGB or grey, transparent pixels
    composited over `policy.background`; the image is fitted to the input's height and
    width as `policy.resize` says; values are scaled to [0, 1].

    Returns a float32 array of shape `input_shape`.
    """
    height, width, channels = input_shape
    image = _upright(image)
    image = _to_mode(image, "L" if channels == 1 else "RGB", policy.background)
    if image.size != (width, height):
        image = _fit(image, (width, height), policy)
    array = np.asarray(image, dtype=np.float32) / 255.0
    return array.reshape(height, width, channels)


def _upright(image: Image.Image) -> Image.Image:
    """The image as it was meant to be seen (cameras store it sideways plus a tag)."""
    try:
        if image.getexif().get(_EXIF_ORIENTATION, 1) == 1:
            return image
        return ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, struct.error, TypeError):
        return image  # a malformed EXIF block: the pixels as stored


def _to_mode(image: Image.Image, mode: str, background: tuple[int, int, int]) -> Image.Image:
    if image.mode in _HIGH_DEPTH:
        # 16/32-bit grey: rescale to 8 bits before mode conversion clips it.
        array = np.asarray(image, dtype=np.float32)
        peak = float(array.max()) or 1.0
        image = Image.fromarray((np.clip(array, 0, None) / peak * 255).astype(np.uint8))
    if image.mode in _WITH_ALPHA or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        canvas = Image.new("RGB", image.size, background)
        canvas.paste(image, mask=image.getchannel("A"))
        image = canvas
    try:
        return image if image.mode == mode else image.convert(mode)
    except ValueError as exc:
        raise DataError(f"cannot convert an image of mode {image.mode} to {mode}: {exc}") from None


def _fit(image: Image.Image, size: tuple[int, int], policy: PreprocessPolicy) -> Image.Image:
    bilinear = Image.Resampling.BILINEAR
    if policy.resize == "stretch":
        return image.resize(size, bilinear)
    if policy.resize == "crop":
        return ImageOps.fit(image, size, method=bilinear)
    # the background as the image's mode has it (grey for L), by Pillow's own conversion
    fill = Image.new("RGB", (1, 1), policy.background).convert(image.mode).getpixel((0, 0))
    # an integer mode's pixel is an int or a tuple of ints; Pillow types getpixel as float too
    return ImageOps.pad(image, size, method=bilinear, color=fill)  # type: ignore[arg-type]


def declared_pixels(data: bytes) -> int | None:
    """Width x height as a PNG, JPEG, GIF or BMP header declares it, read without Pillow
    or decompression (cheap enough for the event loop); None for other formats."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
        elif data[:6] in (b"GIF87a", b"GIF89a"):
            width, height = struct.unpack("<HH", data[6:10])
        elif data[:2] == b"BM" and struct.unpack("<I", data[14:18])[0] >= 40:
            width, height = struct.unpack("<ii", data[18:26])
        elif data[:2] == b"\xff\xd8":  # JPEG: walk the segments to the frame header
            at = 2
            while data[at] == 0xFF:
                marker = data[at + 1]
                if marker == 0xFF:  # a fill byte
                    at += 1
                    continue
                if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                    height, width = struct.unpack(">HH", data[at + 5 : at + 9])
                    break
                at += 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]
            else:
                return None
        else:
            return None
    except (struct.error, IndexError):
        return None
    return abs(width) * abs(height)
