"""What every data source deals in: labelled images, a month's split, the `Source`
protocol, and the few facts of a workflow a source reads (`WorkflowData`).

A source yields `LabeledImage`s for a month (split into train and holdout) and a
frozen test set that never changes and never overlaps the months.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from modelfleet.datasets.specs import SourceSpec


@dataclass(frozen=True)
class LabeledImage:
    name: str
    label: str
    data: bytes


@dataclass(frozen=True)
class MonthSplit:
    train: list[LabeledImage]
    holdout: list[LabeledImage]


class Source(Protocol):
    def test_set(self) -> list[LabeledImage]: ...

    def month(self, month: str) -> MonthSplit: ...


class WorkflowData(Protocol):
    """The parts of a workflow the data sources read; `config.Workflow` is one (the
    config sits above the datasets, so they name the shape rather than the class)."""

    @property
    def name(self) -> str: ...

    @property
    def classes(self) -> tuple[str, ...]: ...

    @property
    def input_shape(self) -> tuple[int, int, int]: ...

    @property
    def source(self) -> SourceSpec: ...
