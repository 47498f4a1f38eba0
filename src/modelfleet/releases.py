"""Moving the production alias: releases, rollbacks and approvals share this path.

Postgres is authoritative: the alias moves (and its `alias_event` is appended) in
one transaction, whose NOTIFY makes the endpoint swap. The GTO stage in the model
repository mirrors it afterwards: at once where the caller owns the repository (the
pipeline, the CLI, `mirror=True`), or within seconds through the platform's stage
mirror where it does not (the endpoint's admin routes, `mirror=False`; see
`versioning.stage_mirror`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from modelfleet.errors import NotFound, RegistryError, VersioningError
from modelfleet.naming import PRODUCTION, Version, retrain_dag_id, serving_dir
from modelfleet.registry import db
from modelfleet.registry.entities import RunRef
from modelfleet.registry.store import versions
from modelfleet.settings import Settings
from modelfleet.versioning import stage_mirror
from modelfleet.versioning.repo import open_repo


def may_release(manager: Any, user: Any, workflow: str) -> bool:
    """Whether Airflow `user` may move `workflow`'s versions: POST on its `retrain__<wf>`
    DAG's runs (whoever may run the pipeline that deploys may release by hand), asked of
    the auth `manager` (any Airflow auth manager). The Models UI and the approval step
    both ask this."""
    # Imported per call: only processes with an Airflow API (webserver, workers) ask.
    from airflow.api_fastapi.auth.managers.models.resource_details import (
        DagAccessEntity,
        DagDetails,
    )

    return bool(
        manager.is_authorized_dag(
            method="POST",
            access_entity=DagAccessEntity.RUN,
            details=DagDetails(id=retrain_dag_id(workflow)),
            user=user,
        )
    )


def set_production(
    settings: Settings,
    workflow: str,
    version: str,
    *,
    actor: str,
    reason: str,
    run: RunRef = versions.NO_RUN,
    forward_only: bool = False,
    mirror: bool = True,
) -> str | None:
    """Make an exported `version` production; return the version it replaced.

    `mirror` assigns the GTO stage before returning; without it the repository is left
    to the platform's stage mirror (a process that must not write git, the endpoint).
    """
    semver = Version.parse(version)
    exported = serving_dir(settings.serving_root, workflow, semver)
    if not (exported / "saved_model.pb").is_file():
        raise VersioningError(f"{workflow} {version} is not exported for serving at {exported}")
    with Session(db.engine()) as session, session.begin():
        previous = versions.move_alias(
            session,
            workflow=workflow,
            version=version,
            actor=actor,
            reason=reason,
            run=run,
            forward_only=forward_only,
        )
    if mirror:
        mirror_stage(workflow)
    return None if previous is None else previous.version


def mirror_stage(workflow: str, stage: str = PRODUCTION) -> None:
    """Assign the GTO stage to what the Postgres alias holds *now*, under the repository
    lock: when two moves race, the last mirror written is the final alias, not whichever
    move happened to assign last."""
    aliases = stage_mirror.PostgresAliases(db.engine())
    stage_mirror.assign_now(open_repo(), aliases, workflow, stage)


def rollback_target(session: Session, workflow: str, to: str | None) -> str:
    """`to`, checked; or else the older version the current production replaced.

    "Older" matters after an automatic rollback: production then replaced a newer,
    failed release, and rolling back must not bring that one back. Each further
    rollback walks one release further back.
    """
    current = versions.resolve_alias(session, workflow)
    if current is None:
        raise NotFound(f"workflow {workflow!r} has no production version to roll back")
    if to is not None:
        versions.get_version(session, workflow, to)  # NotFound names the workflow
        if to == current.version:
            raise RegistryError(f"{workflow} {to} is already production")
        return to
    now = Version.parse(current.version)
    for event in reversed(versions.alias_history(session, workflow)):
        replaced = event.from_version
        if event.to_version == current.version and replaced and Version.parse(replaced) < now:
            return replaced
    raise RegistryError(
        f"{workflow} {current.version} replaced no older version; name one with --to"
    )


def rollback(
    settings: Settings,
    workflow: str,
    *,
    to: str | None,
    actor: str,
    reason: str,
    run: RunRef = versions.NO_RUN,
    mirror: bool = True,
) -> tuple[str, str]:
    """Move production back; returns (from, to). `mirror` as for `set_production`."""
    if not reason.strip():
        raise RegistryError("a rollback needs a reason (--reason)")
    with Session(db.engine()) as session:
        target = rollback_target(session, workflow, to)
    previous = set_production(
        settings,
        workflow,
        target,
        actor=actor,
        reason=f"rollback: {reason}",
        run=run,
        mirror=mirror,
    )
    return previous or "none", target
