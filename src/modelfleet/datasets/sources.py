"""Open the data source a workflow's `source:` names, and list the months it holds.

Each kind lives in its own module (`digits`, `procedural`, `packaged`, `folder`); the
kinds and their classes are `datasets.catalog`, the shared types `datasets.base`.
"""

from __future__ import annotations

from modelfleet.datasets.base import Source, WorkflowData
from modelfleet.datasets.digits import DigitsSource
from modelfleet.datasets.folder import FolderSource
from modelfleet.datasets.packaged import PackagedPatchSource
from modelfleet.datasets.procedural import ProceduralSource
from modelfleet.datasets.specs import (
    DigitsSourceConfig,
    FolderSourceConfig,
    ProceduralSourceConfig,
)
from modelfleet.months import add_months

__all__ = ["Source", "source_for", "source_months"]


def source_for(workflow: WorkflowData) -> Source:
    """The data source a workflow's `source:` config describes."""
    src = workflow.source
    if isinstance(src, DigitsSourceConfig):
        return DigitsSource(workflow)
    if isinstance(src, FolderSourceConfig):
        return FolderSource(workflow)
    # Procedural and packaged sources differ only in what they draw from.
    drifting = (
        workflow.classes,
        workflow.input_shape,
        src.start_month,
        src.months,
        src.images_per_month,
        src.test_size,
        src.holdout_fraction,
        src.drift,
    )
    if isinstance(src, ProceduralSourceConfig):
        return ProceduralSource(workflow.name, src.generator, *drifting)
    return PackagedPatchSource(workflow.name, src.source_images, *drifting)


def source_months(workflow: WorkflowData) -> list[str]:
    """The months the workflow's source holds data for; a folder source lists its folder."""
    src = workflow.source
    if isinstance(src, FolderSourceConfig):
        return FolderSource(workflow).months()
    return [add_months(src.start_month, i) for i in range(src.months)]
