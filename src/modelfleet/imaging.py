"""Image decoding and the one preprocessing function that training and serving share."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from modelfleet.errors import DataError

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


def to_model_input(image: Image.Image, input_shape: tuple[int, int, int]) -> np.ndarray:
    """Convert any image to the model's input: resize, channels, scale to [0, 1].

    Returns a float32 array of shape `input_shape`.
    """
    height, width, channels = input_shape
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grayscale: rescale to 8 bits before mode conversion clips it.
        array = np.asarray(image, dtype=np.float32)
        peak = float(array.max()) or 1.0
        image = Image.fromarray((array / peak * 255).astype(np.uint8))
    image = image.convert("L" if channels == 1 else "RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.float32) / 255.0
    return array.reshape(height, width, channels)
