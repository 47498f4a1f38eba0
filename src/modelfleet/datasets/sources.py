"""Data sources: deterministic labelled images per (workflow, month).

A source yields `LabeledImage`s for a month (split into train and holdout) and a
frozen test set that never changes and never overlaps the months.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

from modelfleet.config import (
    DigitsSourceConfig,
    FolderSourceConfig,
    ProceduralSourceConfig,
    Workflow,
)
from modelfleet.errors import NoDataForMonth
from modelfleet.months import add_months, month_index


@dataclass(frozen=True)
class LabeledImage:
    name: str
    label: str
    data: bytes


@dataclass(frozen=True)
class MonthSplit:
    train: list[LabeledImage]
    holdout: list[LabeledImage]


class DigitsSource:
    """scikit-learn's bundled 8x8 digit scans, upscaled to the workflow's size as PNG.

    A fixed permutation gives the frozen test set first, then equal monthly batches.
    """

    def __init__(self, workflow: Workflow) -> None:
        from sklearn.datasets import load_digits

        self.workflow = workflow
        digits = load_digits()
        order = np.random.default_rng(20260101).permutation(len(digits.target))
        n_test = int(len(order) * workflow.source.test_fraction)
        self._images = digits.images
        self._targets = digits.target
        self._test = order[:n_test]
        self._batches = np.array_split(order[n_test:], workflow.source.months)

    def test_set(self) -> list[LabeledImage]:
        return [self._render(i) for i in self._test]

    def month(self, month: str) -> MonthSplit:
        index = month_index(month, self.workflow.source.start_month)
        if not 0 <= index < len(self._batches):
            last = len(self._batches) - 1
            raise NoDataForMonth(
                f"workflow {self.workflow.name!r}: no data for month {month}; "
                f"the source covers {self.workflow.source.start_month} plus {last} months"
            )
        batch = self._batches[index]
        n_holdout = max(1, int(len(batch) * self.workflow.source.holdout_fraction))
        return MonthSplit(
            train=[self._render(i) for i in batch[n_holdout:]],
            holdout=[self._render(i) for i in batch[:n_holdout]],
        )

    def _render(self, index: int) -> LabeledImage:
        height, width, channels = self.workflow.input_shape
        pixels = (self._images[index] * (255.0 / 16.0)).astype(np.uint8)
        image = Image.fromarray(pixels, mode="L").resize((width, height), Image.Resampling.BILINEAR)
        if channels == 3:
            image = image.convert("RGB")
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=False)
        label = self.workflow.classes[int(self._targets[index])]
        return LabeledImage(name=f"digit_{index:04d}.png", label=label, data=buffer.getvalue())


class Source(Protocol):
    def test_set(self) -> list[LabeledImage]: ...

    def month(self, month: str) -> MonthSplit: ...


def source_for(workflow: Workflow) -> Source:
    """The data source a workflow's `source:` config describes."""
    src = workflow.source
    if isinstance(src, DigitsSourceConfig):
        return DigitsSource(workflow)
    if isinstance(src, FolderSourceConfig):
        from modelfleet.datasets.folder import FolderSource

        return FolderSource(workflow)
    common = {
        "workflow_name": workflow.name,
        "classes": workflow.classes,
        "input_shape": workflow.input_shape,
        "start_month": src.start_month,
        "months": src.months,
        "images_per_month": src.images_per_month,
        "test_size": src.test_size,
        "holdout_fraction": src.holdout_fraction,
        "drift": src.drift,
    }
    if isinstance(src, ProceduralSourceConfig):
        from modelfleet.datasets.procedural import ProceduralSource

        return ProceduralSource(generator=src.generator, **common)
    from modelfleet.datasets.packaged import PackagedPatchSource

    return PackagedPatchSource(source_images=src.source_images, **common)


def source_months(workflow: Workflow) -> list[str]:
    """The months the workflow's source holds data for; a folder source lists its folder."""
    src = workflow.source
    if isinstance(src, FolderSourceConfig):
        from modelfleet.datasets.folder import FolderSource

        return FolderSource(workflow).months()
    return [add_months(src.start_month, i) for i in range(src.months)]
