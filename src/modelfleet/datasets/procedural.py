"""Procedural visual-inspection sources whose images drift month by month.

A `ProceduralSource` renders labelled PNGs with one of the `GENERATORS` (surface,
weld, label, cap; see `modelfleet.datasets.generators`). Every image is a pure
function of (workflow, generator, month or "test", index): its seed is the first 8
bytes of a SHA-256 of those parts, fed to `numpy.random.default_rng`, and Pillow's
PNG encoder is deterministic, so the bytes are identical in every call and process.

Drift (details and formulas in `modelfleet.datasets.generators.drift`): with month
index m and t = m * drift, exposure falls and contrast flattens (the lamp ages),
RGB white balance warms, sensor noise grows, the class balance shifts from "ok"
towards later defects (every class stays within about 10-40 %), and from month
`STYLE_MONTH` (4) on a growing share of some defects is drawn in a new style
(branched cracks, curved scratches, clustered pores, ...). drift = 0 is stationary.

The frozen test set (`test_set`) is drawn from its own seeds ("test" in place of a
month), so it never overlaps a month. It is deliberately a mix over the whole
period: test image i is rendered under the conditions of month i mod `months`
(shuffled), with balanced classes, so it contains every lighting level and both
defect styles and measures how well a model covers the full period rather than
only the conditions it was trained on.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
from PIL import Image

from modelfleet.datasets.base import LabeledImage, MonthSplit
from modelfleet.datasets.generators import GENERATORS, GeneratorSpec
from modelfleet.datasets.generators.drift import (
    STYLE_MONTH,
    Conditions,
    class_shares,
    conditions_at,
    exact_counts,
    finish,
)
from modelfleet.errors import ConfigError, NoDataForMonth
from modelfleet.months import add_months, month_index

__all__ = [
    "GENERATORS",
    "STYLE_MONTH",
    "Conditions",
    "DriftingSource",
    "ProceduralSource",
    "Sample",
    "conditions_at",
]

CLASSIC = "classic"
Origin = TypeVar("Origin")  # what a drifting source draws from


@dataclass(frozen=True)
class Sample:
    """What one image will show, decided before any pixel is drawn."""

    name: str
    label: str
    style: str
    month_index: int  # whose conditions it is drawn under
    tag: str  # the month it belongs to, or "test"
    seed: int


def stable_seed(*parts: str) -> int:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def encode_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


class DriftingSource(Generic[Origin]):
    """Shared month/test planning, splitting and validation; subclasses draw pixels.

    `origin` is what a subclass draws from (a generator's name, bundled images): its
    `_adopt` checks it against the classes and returns the classes' later styles.
    """

    kind = "drifting"
    _tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    _jitter: tuple[float, float] = (0.05, 0.02)

    def __init__(
        self,
        workflow_name: str,
        origin: Origin,
        classes: tuple[str, ...],
        input_shape: tuple[int, int, int],
        start_month: str,
        months: int,
        images_per_month: int = 300,
        test_size: int = 400,
        holdout_fraction: float = 0.2,
        drift: float = 1.0,
    ) -> None:
        styles = self._adopt(workflow_name, origin, classes)
        height, width, channels = input_shape
        problems = [
            (len(classes) < 2 or len(set(classes)) != len(classes), "needs >= 2 unique classes"),
            (not (16 <= height <= 512 and 16 <= width <= 512), "sides must be 16..512 px"),
            (channels not in (1, 3), "channels must be 1 or 3"),
            (months < 1, "months must be >= 1"),
            (images_per_month < 2 * len(classes), "images_per_month < 2 per class"),
            (test_size < len(classes), "test_size < 1 per class"),
            (not 0 < holdout_fraction < 1, "holdout_fraction must be in (0, 1)"),
            (drift < 0, "drift must be >= 0"),
        ]
        for failed, why in problems:
            if failed:
                raise ConfigError(f"workflow {workflow_name!r}: {self.kind} source {why}")
        self.workflow_name = workflow_name
        self.classes = tuple(classes)
        self.styles = {c: s for c, s in styles.items() if c in self.classes}
        self.input_shape = (height, width, channels)
        self.start_month, self.months = start_month, months
        self.images_per_month, self.test_size = images_per_month, test_size
        self.holdout_fraction, self.drift = holdout_fraction, drift

    def conditions(self, month: str) -> Conditions:
        """The acquisition conditions of `month` (NoDataForMonth outside the source)."""
        return conditions_at(self._index(month), self.drift)

    def plan(self, month: str) -> list[Sample]:
        """The samples of `month` (label, style, seed), in train-then-holdout order."""
        index = self._index(month)
        rng = np.random.default_rng(stable_seed(self._key, month, "plan"))
        shares = class_shares(self.classes, index, self.drift)
        counts = exact_counts(shares, self.images_per_month)
        labels = np.repeat(np.arange(len(self.classes)), counts)
        rng.shuffle(labels)
        months = np.full(len(labels), index)
        return self._samples(rng, labels, months, month)

    def test_plan(self) -> list[Sample]:
        """The frozen test samples: balanced classes, months' conditions round-robin."""
        rng = np.random.default_rng(stable_seed(self._key, "test", "plan"))
        labels = np.arange(self.test_size) % len(self.classes)
        months = np.arange(self.test_size) % self.months
        rng.shuffle(labels)
        rng.shuffle(months)
        return self._samples(rng, labels, months, "test")

    def test_set(self) -> list[LabeledImage]:
        """The frozen test set: a class-balanced mix over all months' conditions."""
        return [self._image(s) for s in self.test_plan()]

    def month(self, month: str) -> MonthSplit:
        """`month`'s images split into train and holdout (NoDataForMonth outside)."""
        images = [self._image(s) for s in self.plan(month)]
        n_holdout = max(1, int(len(images) * self.holdout_fraction))
        return MonthSplit(train=images[n_holdout:], holdout=images[:n_holdout])

    def render(self, sample: Sample) -> np.ndarray:
        """The uint8 pixels of `sample` (HxW for 1 channel, HxWx3 for 3)."""
        rng = np.random.default_rng(sample.seed)
        height, width, channels = self.input_shape
        clean = self._draw(sample, rng, height, width)
        cond = conditions_at(sample.month_index, self.drift)
        return finish(clean, cond, rng, channels, self._tint, self._jitter)

    def _adopt(
        self, workflow_name: str, origin: Origin, classes: tuple[str, ...]
    ) -> dict[str, str]:
        """Check `origin` against `classes` (ConfigError naming the workflow), keep what
        drawing needs, and return the style each class takes on from `STYLE_MONTH`."""
        raise NotImplementedError

    @property
    def _key(self) -> str:
        return f"{self.workflow_name}\x1f{self.kind}"

    def _draw(
        self, sample: Sample, rng: np.random.Generator, height: int, width: int
    ) -> np.ndarray:
        raise NotImplementedError

    def _samples(
        self, rng: np.random.Generator, labels: np.ndarray, months: np.ndarray, tag: str
    ) -> list[Sample]:
        samples = []
        for i, (label_index, index) in enumerate(zip(labels, months, strict=True)):
            label = self.classes[int(label_index)]
            share = conditions_at(int(index), self.drift).new_style_share
            restyle = label in self.styles and rng.random() < share
            samples.append(
                Sample(
                    name=f"{self.kind}_{tag}_{i:05d}.png",
                    label=label,
                    style=self.styles[label] if restyle else CLASSIC,
                    month_index=int(index),
                    tag=tag,
                    seed=stable_seed(self._key, tag, str(i)),
                )
            )
        return samples

    def _image(self, sample: Sample) -> LabeledImage:
        return LabeledImage(sample.name, sample.label, encode_png(self.render(sample)))

    def _index(self, month: str) -> int:
        index = month_index(month, self.start_month)
        if not 0 <= index < self.months:
            last = add_months(self.start_month, self.months - 1)
            raise NoDataForMonth(
                f"workflow {self.workflow_name!r}: no data for month {month}; "
                f"the source covers {self.start_month} to {last}"
            )
        return index


class ProceduralSource(DriftingSource[str]):
    """Rendered inspection images from a generator (the origin, e.g. "weld"), drifting
    by month."""

    def _adopt(
        self, workflow_name: str, generator: str, classes: tuple[str, ...]
    ) -> dict[str, str]:
        if generator not in GENERATORS:
            raise ConfigError(
                f"workflow {workflow_name!r}: generator {generator!r} is not one of "
                f"{', '.join(GENERATORS)}"
            )
        self.spec: GeneratorSpec = GENERATORS[generator]
        unknown = [c for c in classes if c not in self.spec.classes]
        if unknown:
            raise ConfigError(
                f"workflow {workflow_name!r}: generator {generator!r} has no classes "
                f"{unknown}; it draws {', '.join(self.spec.classes)}"
            )
        self.kind = generator
        self._tint = self.spec.tint
        return self.spec.styles

    def _draw(
        self, sample: Sample, rng: np.random.Generator, height: int, width: int
    ) -> np.ndarray:
        return self.spec.render(sample.label, sample.style, rng, height, width)
