"""`modelfleet workflow remove NAME`: archive a workflow the user added.

Its file moves from workflows.d to `workflows.d/.archive/<name>.<UTC time>.yaml` (kept,
never read as a workflow), the model repository's params.yaml and dvc.yaml are rendered
without it, and every application's grant of it is revoked, with a `workflow_event` row
that keeps the grants and why. All or nothing (`platform.workflow_change`).

What follows the file by itself, within a minute: `retrain__<wf>` and
`reclassify__<wf>` leave Airflow at the dag-processor's next parse (a run in progress
fails), the endpoint unloads its versions and answers 404, and the stream classifier
stops watching `landing/<wf>/` (files there stay). Its versions, aliases, lineage,
deliveries, lake and exported models stay: `modelfleet versions <wf>` and `lineage
<wf>@vX.Y.Z` still answer. A workflow of the shipped workflows.yaml is refused.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from modelfleet.config import Fleet, load_fleet, parse_fleet, read_document, user_files
from modelfleet.errors import ConfigError
from modelfleet.naming import retrain_dag_id
from modelfleet.platform.workflow_change import Applied, FleetChange, Undo, apply
from modelfleet.registry.store import workflow_events
from modelfleet.settings import Settings

ARCHIVE = ".archive"  # hidden: `config.user_files` never reads it

Say = Callable[[str], None]


@dataclass(frozen=True)
class Removed:
    workflow: str
    archived_to: Path
    applied: Applied
    revoked: dict[str, str] = field(default_factory=dict)  # application -> its pin


def archive_dir(user_dir: Path) -> Path:
    return user_dir / ARCHIVE


def declaring_file(settings: Settings, name: str) -> Path:
    """The workflows.d file that declares `name` alone, or ConfigError saying why the
    workflow cannot be removed (unknown, shipped, or sharing its file)."""
    fleet = load_fleet(settings.config_file, settings.workflows_d)
    if name not in fleet.workflows:
        yours = ", ".join(sorted(fleet.user_workflows)) or "none"
        raise ConfigError(f"unknown workflow {name!r}; the workflows you added: {yours}")
    if name not in fleet.user_workflows:
        raise ConfigError(
            f"workflow {name!r} ships with the platform ({settings.config_file}); "
            "`workflow remove` archives only workflows you added (in "
            f"{settings.workflows_d}). Pause {retrain_dag_id(name)} in Airflow instead"
        )
    path = Path(fleet.user_workflows[name])
    others = sorted(set(read_document(path)["workflows"]) - {name})
    if others:
        raise ConfigError(
            f"{path} declares {', '.join(others)} besides {name!r}; move {name!r} into a "
            "file of its own first (the file is archived whole, never rewritten)"
        )
    return path


def remove(settings: Settings, name: str, say: Say, *, actor: str, reason: str) -> Removed:
    """Archive the user's workflow `name` everywhere, or nowhere."""
    path = declaring_file(settings, name)
    stamp = datetime.now(UTC)
    target = archive_dir(settings.workflows_d) / f"{name}.{stamp:%Y%m%dT%H%M%SZ}.yaml"
    revoked: dict[str, str] = {}

    def fleet_after() -> Fleet:
        declaring_file(settings, name)  # still so, now that the lock is held
        others = [
            (str(p), read_document(p))
            for p in user_files(settings.workflows_d)
            if p.resolve() != path.resolve()
        ]
        config = settings.config_file
        return parse_fleet(read_document(config), str(config), others)

    def change_files() -> Undo:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        return lambda: os.replace(target, path)

    def change_registry(session: Session, fleet: Fleet) -> None:
        revoked.update(
            workflow_events.archive(
                session,
                name,
                actor=actor,
                reason=reason,
                detail={"file": str(path), "archived_to": str(target), "at": stamp.isoformat()},
            )
        )

    change = FleetChange(
        message=f"Archive workflow {name}: {reason}",
        fleet_after=fleet_after,
        change_files=change_files,
        change_registry=change_registry,
    )
    applied = apply(settings, change, say)
    return Removed(name, target, applied, revoked)
