from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from modelfleet.errors import DataError
from modelfleet.imaging import decode, to_model_input


def _encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGB", (640, 480), (255, 255, 255)),
        Image.new("RGBA", (50, 40), (255, 255, 255, 255)),
        Image.new("CMYK", (33, 33), (0, 0, 0, 0)),
        Image.fromarray(np.full((64, 64), 65535, dtype=np.uint16)),
    ],
    ids=["rgb", "rgba", "cmyk", "gray16"],
)
def test_any_image_becomes_the_model_input(image):
    fmt = "JPEG" if image.mode == "CMYK" else "PNG"
    array = to_model_input(decode(_encode(image, fmt)), (28, 28, 1))
    assert array.shape == (28, 28, 1)
    assert array.dtype == np.float32
    assert array.min() >= 0.0 and array.max() <= 1.0
    assert array.mean() > 0.9  # white stays white


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\0" * 20])
def test_undecodable_bytes_raise_a_data_error(data):
    with pytest.raises(DataError):
        decode(data)
