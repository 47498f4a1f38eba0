"""A user's folder of real photos, written at test time: crops of the two JPEGs that
ship inside scikit-learn (`china.jpg`, `flower.jpg`, 640x427), labelled by the photo
they come from, in different sizes and aspect ratios, plus odd files a real folder
has (PNG with alpha, 16-bit PNG, CMYK JPEG, palette GIF, EXIF-rotated JPEG).

    <root>/<YYYY-MM>/<label>/<file>           layout="labels"
    <root>/<YYYY-MM>/{train,holdout}/<label>/  layout="splits"
    <root>/test/<label>/<file>                 with_test=True

Deterministic per seed; nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import io
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

PHOTOS = {"china": "china.jpg", "flower": "flower.jpg"}
ODD_FORMATS = ("alpha.png", "gray16.png", "cmyk.jpg", "palette.gif", "rotated.jpg")


@cache
def photo(label: str) -> Image.Image:
    """One of scikit-learn's bundled sample photos, as RGB."""
    spec = importlib.util.find_spec("sklearn")
    assert spec is not None and spec.submodule_search_locations
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "images"
    with Image.open(folder / PHOTOS[label]) as image:
        return image.convert("RGB")


def crop(label: str, rng: np.random.Generator) -> Image.Image:
    """A random crop of the label's photo: 60-220 px on the short side, aspect 0.6-1.7."""
    source = photo(label)
    short = int(rng.integers(60, 220))
    aspect = float(rng.uniform(0.6, 1.7))
    width, height = (int(short * aspect), short) if aspect >= 1 else (short, int(short / aspect))
    width, height = min(width, source.width), min(height, source.height)
    left = int(rng.integers(0, source.width - width + 1))
    top = int(rng.integers(0, source.height - height + 1))
    return source.crop((left, top, left + width, top + height))


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def odd_file(kind: str, image: Image.Image) -> bytes:
    """`image` saved as one of ODD_FORMATS."""
    buffer = io.BytesIO()
    if kind == "alpha.png":
        rgba = image.convert("RGBA")
        alpha = np.full((image.height, image.width), 255, dtype=np.uint8)
        alpha[:, : image.width // 4] = 0  # a transparent left quarter
        rgba.putalpha(Image.fromarray(alpha))
        rgba.save(buffer, format="PNG")
    elif kind == "gray16.png":
        grey = np.asarray(image.convert("L"), dtype=np.uint16) * 257
        Image.fromarray(grey).save(buffer, format="PNG")  # mode I;16
    elif kind == "cmyk.jpg":
        image.convert("CMYK").save(buffer, format="JPEG", quality=90)
    elif kind == "palette.gif":
        image.convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(buffer, format="GIF")
    elif kind == "rotated.jpg":
        # stored turned a quarter, with the EXIF tag that says how to turn it back
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90 CW to view
        image.transpose(Image.Transpose.ROTATE_90).save(
            buffer, format="JPEG", quality=90, exif=exif.tobytes()
        )
    else:
        raise ValueError(f"unknown odd format {kind!r}; one of {ODD_FORMATS}")
    return buffer.getvalue()


@dataclass
class UserFolder:
    root: Path
    months: list[str]
    classes: list[str]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # month|test -> label -> n

    def files(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*") if p.is_file())


def write_user_folder(
    root: Path,
    months: tuple[str, ...] = ("2026-01", "2026-02"),
    per_class: int = 20,
    *,
    layout: str = "labels",
    with_test: bool = True,
    test_per_class: int = 10,
    odd_formats: bool = True,
    seed: int = 0,
) -> UserFolder:
    """Write a user's folder of photo crops under `root` (see the module docstring).

    `odd_formats` adds one file of each of ODD_FORMATS per class to the first month.
    """
    rng = np.random.default_rng(seed)
    folder = UserFolder(root, list(months), sorted(PHOTOS))

    def write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    for m_index, month in enumerate(months):
        counts = folder.counts.setdefault(month, {})
        for label in folder.classes:
            for i in range(per_class):
                if layout == "splits":
                    split = "holdout" if i % 5 == 0 else "train"
                    target = root / month / split / label / f"{label}_{i:03d}.jpg"
                else:
                    target = root / month / label / f"{label}_{i:03d}.jpg"
                write(target, jpeg(crop(label, rng)))
                counts[label] = counts.get(label, 0) + 1
            if odd_formats and m_index == 0:
                for kind in ODD_FORMATS:
                    base = root / month / ("train" if layout == "splits" else "") / label
                    write(base / f"{label}_{kind}", odd_file(kind, crop(label, rng)))
                    counts[label] += 1
    if with_test:
        counts = folder.counts.setdefault("test", {})
        for label in folder.classes:
            for i in range(test_per_class):
                write(root / "test" / label / f"test_{label}_{i:03d}.jpg", jpeg(crop(label, rng)))
            counts[label] = test_per_class
    return folder


def held_back_photo(label: str, seed: int = 12345) -> bytes:
    """A crop of the label's photo that no folder written with a small seed holds."""
    return jpeg(crop(label, np.random.default_rng(seed)))
