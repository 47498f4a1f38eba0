"""Which images the lake may keep as they arrived: only those holding nothing but pixels."""

from __future__ import annotations

import io

import pytest
from PIL import Image, PngImagePlugin

from modelfleet.ingest.metadata import pixels_only, strip_metadata


def encoded(fmt: str, **save: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (120, 30, 200)).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def with_gps_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif.get_ifd(0x8825)[2] = (52.0, 31.0, 12.0)  # GPSInfo: latitude
    return encoded("JPEG", exif=exif.tobytes())


def jpeg_with_comment() -> bytes:
    return encoded("JPEG", comment=b"shot at 52.31N 4.76E")


def tiff_with_xmp() -> bytes:
    return encoded("TIFF", tiffinfo={700: b"<x:xmpmeta>GPS 52.31N</x:xmpmeta>"})


def jfif_with_thumbnail() -> bytes:
    """A JPEG whose JFIF header carries a 1x1 thumbnail (a picture outside the picture)."""
    plain = encoded("JPEG")
    length = int.from_bytes(plain[4:6], "big")
    header = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x01\x01" + b"\xff\x00\x00"
    app0 = b"\xff\xe0" + (len(header) + 2).to_bytes(2, "big") + header
    return plain[:2] + app0 + plain[4 + length :]


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
    [
        with_gps_exif(),
        png_with_text(),
        encoded("PNG", exif=b"Exif\x00\x00MM"),
        jpeg_with_comment(),
        tiff_with_xmp(),
        jfif_with_thumbnail(),
        encoded("BMP"),
    ],
    ids=["jpeg-gps-exif", "png-text", "png-exif", "jpeg-comment", "tiff-xmp", "jfif-thumb", "bmp"],
)
def test_anything_else_is_re_encoded_without_metadata(data):
    assert pixels_only(data) is None  # not a format this reader follows, or metadata
    clean, _ = strip_metadata(data)
    with Image.open(io.BytesIO(clean)) as image:
        image.load()
        exif = image.getexif()  # a TIFF keeps its structural tags (size, strips) here
        assert 0x8825 not in exif and 0x010F not in exif  # no GPS, no camera make
        assert "Location" not in image.info
        assert "comment" not in image.info and "xmp" not in image.info
        assert 700 not in getattr(image, "tag_v2", {})  # TIFF XMP
    assert pixels_only(clean) in (None, "png", "jpg")


def test_bytes_hidden_after_the_end_or_a_truncated_file_are_not_trusted():
    png, jpeg = encoded("PNG"), encoded("JPEG")
    assert pixels_only(png + b"GPS 52.31N") is None
    assert pixels_only(png[:-20]) is None
    assert pixels_only(jpeg + b"<x:xmpmeta>GPS 52.31N</x:xmpmeta>") is None  # after EOI
    assert pixels_only(jpeg[:-2]) is None  # no end-of-image marker
    assert pixels_only(jpeg[:30]) is None


def test_a_progressive_jpeg_is_followed_through_all_its_scans():
    progressive = encoded("JPEG", progressive=True)
    assert pixels_only(progressive) == "jpg"
    with_comment = encoded("JPEG", progressive=True, comment=b"line 3")
    assert pixels_only(with_comment) is None
