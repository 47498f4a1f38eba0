from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from modelfleet.errors import DataError
from modelfleet.imaging import decode, to_model_input
from modelfleet.preprocessing import LEGACY, PreprocessPolicy


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


# -- the preprocessing policy --


def _bands(columns: list[tuple[int, int]], height: int = 20) -> Image.Image:
    """A grey image made of vertical bands: [(width, level), ...]."""
    row = np.concatenate([np.full(width, level, dtype=np.uint8) for width, level in columns])
    return Image.fromarray(np.tile(row, (height, 1)))


WIDE = [(10, 50), (20, 255), (10, 50)]  # 40x20: dark edges, a white middle


def test_stretch_squeezes_the_whole_image_into_the_shape():
    out = to_model_input(_bands(WIDE), (20, 20, 1), PreprocessPolicy(resize="stretch"))[..., 0]
    assert out[:, 0].max() < 0.3 and out[:, 10].min() == 1.0  # edges kept, squeezed
    assert np.allclose(out[0], out[10])  # every row alike: no padding


def test_crop_keeps_the_middle_at_its_aspect_ratio():
    out = to_model_input(_bands(WIDE), (20, 20, 1), PreprocessPolicy(resize="crop"))[..., 0]
    assert out.min() == 1.0  # the dark edges were cut off


def test_pad_keeps_everything_and_fills_with_the_background():
    out = to_model_input(_bands(WIDE), (20, 20, 1), PreprocessPolicy(resize="pad"))[..., 0]
    assert out[:5].max() == 0.0 and out[-5:].max() == 0.0  # black bands above and below
    assert out[10, 0] < 0.3 and out[10, 10] == 1.0  # the whole width, undistorted
    white = PreprocessPolicy(resize="pad", background=(255, 255, 255))
    assert to_model_input(_bands(WIDE), (20, 20, 1), white)[0, 0, 0] == 1.0


def test_pad_is_the_default_for_workflows_and_stretch_for_old_exports():
    assert PreprocessPolicy().resize == "pad"
    assert PreprocessPolicy.of_export(None) == LEGACY and LEGACY.resize == "stretch"
    recorded = PreprocessPolicy(resize="crop", background=(1, 2, 3)).model_dump(mode="json")
    assert PreprocessPolicy.of_export(recorded).background == (1, 2, 3)


def test_a_background_outside_0_255_is_refused():
    with pytest.raises(ValidationError, match=r"0\.\.255"):
        PreprocessPolicy(background=(0, 0, 300))


def test_exif_orientation_is_applied_before_fitting():
    upright = _bands([(20, 0), (20, 255)])  # 40x20: dark left, white right
    exif = Image.Exif()
    exif[0x0112] = 6  # stored a quarter turn off; turn 90 degrees clockwise to view
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # 20x40 as the camera wrote it
    data = _encode_with(stored, "PNG", exif=exif.tobytes())
    out = to_model_input(decode(data), (20, 40, 1), PreprocessPolicy(resize="stretch"))[..., 0]
    assert out[:, :18].max() < 0.05 and out[:, 22:].min() > 0.95


def test_16_bit_grey_is_scaled_down_not_clipped():
    ramp = np.tile(np.linspace(0, 4000, 32, dtype=np.uint16), (32, 1))
    image = decode(_encode(Image.fromarray(ramp)))
    assert image.mode.startswith("I")
    out = to_model_input(image, (32, 32, 1), PreprocessPolicy())[..., 0]
    assert out[0, -1] == 1.0 and 0.4 < out[0, 16] < 0.6 and out[0, 0] == 0.0


def test_alpha_is_composited_over_the_background():
    red_see_through = Image.new("RGBA", (16, 16), (255, 0, 0, 0))
    red_see_through.paste((255, 0, 0, 255), (0, 0, 8, 16))  # the left half opaque
    image = decode(_encode(red_see_through))
    green = PreprocessPolicy(background=(0, 255, 0))
    out = to_model_input(image, (16, 16, 3), green)
    assert np.allclose(out[0, 0], [1, 0, 0]) and np.allclose(out[0, -1], [0, 1, 0])


def test_cmyk_becomes_rgb():
    cyan = decode(_encode(Image.new("CMYK", (16, 16), (255, 0, 0, 0)), "JPEG"))
    assert cyan.mode == "CMYK"
    r, g, b = to_model_input(cyan, (16, 16, 3), PreprocessPolicy())[8, 8]
    assert r < 0.1 and g > 0.9 and b > 0.9


def test_palette_images_keep_their_colours_and_transparency():
    palette = Image.new("P", (16, 16), 0)
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)  # 0: red, 1: blue
    palette.paste(1, (8, 0, 16, 16))
    out = to_model_input(decode(_encode(palette, "GIF")), (16, 16, 3), PreprocessPolicy())
    assert np.allclose(out[0, 0], [1, 0, 0]) and np.allclose(out[0, -1], [0, 0, 1])
    buffer = io.BytesIO()
    palette.save(buffer, format="GIF", transparency=1)  # blue is see-through
    white = PreprocessPolicy(background=(255, 255, 255))
    out = to_model_input(decode(buffer.getvalue()), (16, 16, 3), white)
    assert np.allclose(out[0, 0], [1, 0, 0]) and np.allclose(out[0, -1], [1, 1, 1])


def test_the_result_always_has_the_input_shape():
    for size in [(7, 300), (300, 7), (1, 1), (640, 480)]:
        for resize in ("pad", "stretch", "crop"):
            image = Image.new("RGB", size, (10, 20, 30))
            out = to_model_input(image, (24, 32, 3), PreprocessPolicy(resize=resize))
            assert out.shape == (24, 32, 3)


def _encode_with(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["digits", "surface_line1", "materials_scenery"])
def test_shipped_workflows_images_are_input_sized_so_pad_equals_stretch(name):
    """One workflow per simulated source kind: pad (the new default) changes nothing."""
    from modelfleet.config import load_fleet
    from modelfleet.datasets.sources import source_for
    from modelfleet.settings import CHECKOUT

    workflow = load_fleet(CHECKOUT / "workflows.yaml", shipped_only=True).get(name)
    height, width, _ = workflow.input_shape
    for image in source_for(workflow).month(workflow.source.start_month).train[:20]:
        decoded = decode(image.data)
        assert decoded.size == (width, height)
        pad = to_model_input(decoded, workflow.input_shape, workflow.preprocess)
        stretch = to_model_input(decoded, workflow.input_shape, LEGACY)
        assert workflow.preprocess.resize == "pad" and np.array_equal(pad, stretch)
