"""Which images the lake may keep as they arrived: only those holding nothing but pixels."""

from __future__ import annotations

import io

import pytest
from PIL import Image, PngImagePlugin

from modelfleet.ingest.lake import strip_metadata
from modelfleet.ingest.metadata import pixels_only


def encoded(fmt: str, **save: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (120, 30, 200)).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def with_gps_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif.get_ifd(0x8825)[2] = (52.0, 31.0, 12.0)  # GPSInfo: latitude
    return encoded("JPEG", exif=exif.tobytes())


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "line 3, bay 7")
    return encoded("PNG", pnginfo=info)


def test_plain_png_and_jpeg_are_kept_byte_for_byte():
    for data, extension in ((encoded("PNG"), "png"), (encoded("JPEG"), "jpg")):
        assert pixels_only(data) == extension
        assert strip_metadata(data) == (data, extension)


@pytest.mark.parametrize(
    "data",
    [with_gps_exif(), png_with_text(), encoded("PNG", exif=b"Exif\x00\x00MM"), encoded("BMP")],
    ids=["jpeg-gps-exif", "png-text", "png-exif", "bmp"],
)
def test_anything_else_is_re_encoded_without_metadata(data):
    assert pixels_only(data) is None  # not a format this reader follows, or metadata
    clean, _ = strip_metadata(data)
    with Image.open(io.BytesIO(clean)) as image:
        image.load()
        assert not image.getexif() and "Location" not in image.info


def test_bytes_hidden_after_the_end_or_a_truncated_file_are_not_trusted():
    png = encoded("PNG")
    assert pixels_only(png + b"GPS 52.31N") is None
    assert pixels_only(png[:-20]) is None
    assert pixels_only(encoded("JPEG")[:30]) is None
