"""Texture/material patches cropped from images that ship inside installed packages.

Nothing is downloaded: the pixels come from files inside installed wheels, found
with `importlib.util.find_spec` (the package itself is never imported), e.g.
scikit-learn's `datasets/images/china.jpg` and `flower.jpg` (the files behind
`load_sample_images`, 640x427 RGB JPEGs) and, if scikit-image is installed,
its bundled textures `data/brick.png`, `grass.png` and `gravel.png` (512x512).

Every class is one region of one bundled image (`SOURCE_IMAGES`): water,
foliage and pagoda in china.jpg; petals and leaves in flower.jpg; the whole image
for the scikit-image textures. An image is a random square crop of its region
(side 40 source px x U(0.85, 1.2), random flips), resized to the input shape.

Months and the frozen test set never share pixels: each region is split along its
longer side, the first 70 % feeding the months and the last 30 % the test set.

Drift is the model of `modelfleet.datasets.procedural` (lighting, white balance,
sensor noise and class balance by month), and from `STYLE_MONTH` on a growing share
of patches is "zoomed_out": cropped 1.8 times larger (the camera moved back), so
the texture's scale changes. As there, the test set mixes all months' conditions.

Determinism: seeds as in `procedural`. PNG sources are lossless, so their bytes
are identical everywhere; JPEG sources are identical for a given Pillow build (the
JPEG decoder is part of it).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from modelfleet.datasets.procedural import DriftingSource, Sample
from modelfleet.errors import ConfigError, DataError

__all__ = ["SOURCE_IMAGES", "BundledImage", "PackagedPatchSource", "available", "default_classes"]

Box = tuple[int, int, int, int]  # left, top, right, bottom in source pixels
PATCH = 40
ZOOM = 1.8
TEST_SHARE = 0.3


@dataclass(frozen=True)
class BundledImage:
    """An image file inside an installed package, and the class regions in it."""

    package: str  # import name
    path: str  # relative to the package directory
    requirement: str  # what to pip-install to get it
    regions: dict[str, Box | None]  # class -> box; None = the whole image


_SKIMAGE = "scikit-image==0.26.0"
SOURCE_IMAGES: dict[str, BundledImage] = {
    "sklearn:china.jpg": BundledImage(
        "sklearn",
        "datasets/images/china.jpg",
        "scikit-learn",
        {
            "water": (352, 240, 530, 285),
            "foliage": (400, 320, 640, 427),
            "pagoda": (110, 140, 300, 330),
        },
    ),
    "sklearn:flower.jpg": BundledImage(
        "sklearn",
        "datasets/images/flower.jpg",
        "scikit-learn",
        {"petals": (215, 125, 400, 315), "leaves": (0, 0, 170, 320)},
    ),
    "skimage:brick.png": BundledImage("skimage", "data/brick.png", _SKIMAGE, {"brick": None}),
    "skimage:grass.png": BundledImage("skimage", "data/grass.png", _SKIMAGE, {"grass": None}),
    "skimage:gravel.png": BundledImage("skimage", "data/gravel.png", _SKIMAGE, {"gravel": None}),
}


def default_classes(source_images: tuple[str, ...]) -> tuple[str, ...]:
    """All class regions of `source_images`, in table order."""
    return tuple(c for key in source_images for c in SOURCE_IMAGES[key].regions)


def available(source_images: tuple[str, ...]) -> bool:
    """Whether every image's package is installed (nothing is imported)."""
    return all(_locate(key) is not None for key in source_images)


def _locate(key: str) -> Path | None:
    bundled = SOURCE_IMAGES[key]
    spec = importlib.util.find_spec(bundled.package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / bundled.path
    return path if path.is_file() else None


@cache
def _load(key: str) -> Image.Image:
    path = _locate(key)
    if path is None:
        bundled = SOURCE_IMAGES[key]
        raise DataError(
            f"bundled image {key!r} needs {bundled.package!r} with {bundled.path}; "
            f"install {bundled.requirement}"
        )
    with Image.open(path) as image:
        return image.convert("RGB")


def _split(box: Box, part: str) -> Box:
    """The months' (first 70 %) or the test set's (last 30 %) share of `box`."""
    left, top, right, bottom = box
    if right - left >= bottom - top:
        cut = round(right - (right - left) * TEST_SHARE)
        return (left, top, cut, bottom) if part == "months" else (cut, top, right, bottom)
    cut = round(bottom - (bottom - top) * TEST_SHARE)
    return (left, top, right, cut) if part == "months" else (left, cut, right, bottom)


class PackagedPatchSource(DriftingSource[tuple[str, ...]]):
    """Patches of bundled images (the origin, keys of `SOURCE_IMAGES`), one class per
    region, drifting by month."""

    kind = "patch"
    _jitter = (0.1, 0.04)  # natural exposure varies more than a fixed inspection rig

    def _adopt(
        self, workflow_name: str, source_images: tuple[str, ...], classes: tuple[str, ...]
    ) -> dict[str, str]:
        unknown = [key for key in source_images if key not in SOURCE_IMAGES]
        if unknown or not source_images:
            raise ConfigError(
                f"workflow {workflow_name!r}: source images {unknown or '()'} are not among "
                f"{', '.join(SOURCE_IMAGES)}"
            )
        self._regions: dict[str, tuple[str, Box | None]] = {
            c: (key, box) for key in source_images for c, box in SOURCE_IMAGES[key].regions.items()
        }
        missing = [c for c in classes if c not in self._regions]
        if missing:
            raise ConfigError(
                f"workflow {workflow_name!r}: classes {missing} are no region of "
                f"{', '.join(source_images)}; they have {', '.join(self._regions)}"
            )
        self.source_images = tuple(source_images)
        return dict.fromkeys(classes, "zoomed_out")

    def _draw(
        self, sample: Sample, rng: np.random.Generator, height: int, width: int
    ) -> np.ndarray:
        key, box = self._regions[sample.label]
        image = _load(key)
        part = "test" if sample.tag == "test" else "months"
        left, top, right, bottom = _split(box or (0, 0, *image.size), part)
        side = PATCH * rng.uniform(0.85, 1.2) * (ZOOM if sample.style == "zoomed_out" else 1.0)
        side = min(side, right - left, bottom - top)
        x0 = left + rng.uniform(0, right - left - side)
        y0 = top + rng.uniform(0, bottom - top - side)
        patch = image.resize(
            (width, height), Image.Resampling.BILINEAR, box=(x0, y0, x0 + side, y0 + side)
        )
        pixels = np.asarray(patch, np.float32) / 255.0
        if rng.random() < 0.5:
            pixels = pixels[:, ::-1]
        if rng.random() < 0.5:
            pixels = pixels[::-1]
        return np.ascontiguousarray(pixels)
