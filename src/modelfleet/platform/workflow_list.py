"""`modelfleet workflow list`: the shipped workflows and the user's, where each is
declared, its data source and architecture, its production version; and the user's
archived workflows (their versions stay queryable)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from modelfleet.config import Workflow, load_fleet
from modelfleet.datasets.specs import (
    DigitsSourceConfig,
    FolderSourceConfig,
    PackagedSourceConfig,
    ProceduralSourceConfig,
)
from modelfleet.platform.workflow_change import platform_started
from modelfleet.registry import db
from modelfleet.registry.entities import WorkflowEvent
from modelfleet.registry.store import versions, workflow_events
from modelfleet.settings import Settings

SHIPPED = "shipped"


@dataclass(frozen=True)
class Listed:
    name: str
    declared_in: str  # SHIPPED, or the user's file in workflows.d
    source: str
    architecture: str
    input_shape: tuple[int, int, int]
    schedule: str
    production: str | None  # None: nothing released yet (or the registry not started)


@dataclass(frozen=True)
class Listing:
    workflows: list[Listed]
    archived: list[WorkflowEvent] = field(default_factory=list)
    registry: bool = True  # False: the platform never started; no versions to show


def list_workflows(settings: Settings) -> Listing:
    fleet = load_fleet(settings.config_file, settings.workflows_d)
    production: dict[str, str] = {}
    archived: dict[str, WorkflowEvent] = {}
    started = platform_started(settings)
    if started:
        with Session(db.engine()) as session:
            production = {name: v.version for name, v in versions.all_aliases(session).items()}
            archived = workflow_events.archived(session)
    rows = [
        Listed(
            name=name,
            declared_in=fleet.user_workflows.get(name, SHIPPED),
            source=source_text(wf),
            architecture=wf.architecture,
            input_shape=wf.input_shape,
            schedule=wf.schedule,
            production=production.get(name),
        )
        for name, wf in sorted(fleet.workflows.items())
    ]
    gone = [event for name, event in sorted(archived.items()) if name not in fleet.workflows]
    return Listing(rows, gone, registry=started)


def source_text(workflow: Workflow) -> str:
    """The data source in a few words."""
    src = workflow.source
    if isinstance(src, FolderSourceConfig):
        return f"folder {src.url}"
    if isinstance(src, ProceduralSourceConfig):
        return f"procedural {src.generator}"
    if isinstance(src, PackagedSourceConfig):
        return f"packaged {', '.join(src.source_images)}"
    assert isinstance(src, DigitsSourceConfig)
    return "sklearn digits"
