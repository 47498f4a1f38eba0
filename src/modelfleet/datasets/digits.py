"""The `sklearn_digits` data source: scikit-learn's bundled 8x8 digit scans.

Real images (1,797 of them), upscaled to the workflow's input shape as PNG. A fixed
permutation gives the frozen test set first, then equal monthly batches.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from modelfleet.datasets.base import LabeledImage, MonthSplit, WorkflowData, source_config
from modelfleet.datasets.specs import DigitsSourceConfig
from modelfleet.errors import NoDataForMonth
from modelfleet.months import month_index


class DigitsSource:
    """scikit-learn's bundled 8x8 digit scans, upscaled to the workflow's size as PNG."""

    def __init__(self, workflow: WorkflowData) -> None:
        # scikit-learn is slow to import: only when digits are drawn.
        from sklearn.datasets import load_digits

        self.workflow = workflow
        self.config = source_config(workflow, DigitsSourceConfig, "sklearn_digits")
        digits = load_digits()
        order = np.random.default_rng(20260101).permutation(len(digits.target))
        n_test = int(len(order) * self.config.test_fraction)
        self._images = digits.images
        self._targets = digits.target
        self._test = order[:n_test]
        self._batches = np.array_split(order[n_test:], self.config.months)

    def test_set(self) -> list[LabeledImage]:
        return [self._render(i) for i in self._test]

    def month(self, month: str) -> MonthSplit:
        index = month_index(month, self.config.start_month)
        if not 0 <= index < len(self._batches):
            last = len(self._batches) - 1
            raise NoDataForMonth(
                f"workflow {self.workflow.name!r}: no data for month {month}; "
                f"the source covers {self.config.start_month} plus {last} months"
            )
        batch = self._batches[index]
        n_holdout = max(1, int(len(batch) * self.config.holdout_fraction))
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
