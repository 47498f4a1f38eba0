"""What every data source deals in: labelled images, a month's split, the `Source`
protocol, and the few facts of a workflow a source reads (`WorkflowData`; its
`ImageTask` part is what validation reads too).

A source yields `LabeledImage`s for a month (split into train and holdout) and a
frozen test set that never changes and never overlaps the months.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

from modelfleet.datasets.specs import SourceSpec
from modelfleet.errors import DataError

SpecT = TypeVar("SpecT", bound=SourceSpec)


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


class ImageTask(Protocol):
    """What any reader of a workflow knows it by: its name, its classes, its image shape."""

    @property
    def name(self) -> str: ...

    @property
    def classes(self) -> tuple[str, ...]: ...

    @property
    def input_shape(self) -> tuple[int, int, int]: ...


class WorkflowData(ImageTask, Protocol):
    """The parts of a workflow the data sources read; `config.Workflow` is one (the
    config sits above the datasets, so they name the shape rather than the class)."""

    @property
    def source(self) -> SourceSpec: ...


def source_config(workflow: WorkflowData, kind: type[SpecT], what: str) -> SpecT:
    """The workflow's `source:` config, checked to be the `kind` a source reads.

    Raises:
        DataError: the workflow's source is another kind (`what` names the expected one).
    """
    if not isinstance(workflow.source, kind):
        raise DataError(f"workflow {workflow.name!r}: its source is not {what}")
    return workflow.source
