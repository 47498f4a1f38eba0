"""Model versions and aliases (production, ...). Alias moves append alias_event."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from modelfleet.errors import NotFound, StaleRelease
from modelfleet.naming import PRODUCTION
from modelfleet.registry.entities import (
    AliasEvent,
    ModelVersion,
    NewVersion,
    ReleasedVersion,
    RunRef,
)
from modelfleet.registry.store.rows import entity, insert
from modelfleet.registry.store.workflows import ensure_workflow
from modelfleet.registry.tables import (
    AliasEventRow,
    AliasRow,
    DatasetVersionRow,
    ModelVersionRow,
    TrainingRunRow,
    WorkflowRow,
)

# Postgres NOTIFY channel the endpoint listens on: payload "<workflow>" for an alias
# move, "applications" for a change of applications, keys or grants.
ALIAS_CHANNEL = "modelfleet_alias"
NO_RUN = RunRef()


def _entity(row: ModelVersionRow, workflow: str) -> ModelVersion:
    return entity(ModelVersion, row, workflow=workflow)


def _select_versions() -> sa.Select[ModelVersionRow, str]:
    return sa.select(ModelVersionRow, WorkflowRow.name).join(
        WorkflowRow, WorkflowRow.id == ModelVersionRow.workflow_id
    )


def add_version(session: Session, record: NewVersion) -> ModelVersion:
    return _entity(insert(session, ModelVersionRow, record), record.workflow)


def list_versions(session: Session, workflow: str) -> list[ModelVersion]:
    rows = session.execute(
        _select_versions().where(WorkflowRow.name == workflow).order_by(ModelVersionRow.version_int)
    ).all()
    return [_entity(row, name) for row, name in rows]


def released_versions(session: Session, workflow: str) -> list[ReleasedVersion]:
    """A workflow's versions, oldest first, with the month and params that made each."""
    rows = session.execute(
        sa.select(ModelVersionRow.version, DatasetVersionRow.month, TrainingRunRow.params)
        .join(WorkflowRow, WorkflowRow.id == ModelVersionRow.workflow_id)
        .join(TrainingRunRow, TrainingRunRow.id == ModelVersionRow.training_run_id)
        .join(DatasetVersionRow, DatasetVersionRow.id == TrainingRunRow.dataset_version_id)
        .where(WorkflowRow.name == workflow)
        .order_by(ModelVersionRow.version_int)
    ).all()
    return [ReleasedVersion(version, month, params) for version, month, params in rows]


def get_version(session: Session, workflow: str, version: str) -> ModelVersion:
    found = session.execute(
        _select_versions().where(WorkflowRow.name == workflow, ModelVersionRow.version == version)
    ).first()
    if found is None:
        raise NotFound(f"workflow {workflow!r} has no version {version}")
    return _entity(*found)


def version_of_training_run(session: Session, training_run_id: int) -> ModelVersion | None:
    found = session.execute(
        _select_versions().where(ModelVersionRow.training_run_id == training_run_id)
    ).first()
    return None if found is None else _entity(*found)


def get_version_by_id(session: Session, version_id: int) -> ModelVersion:
    found = session.execute(_select_versions().where(ModelVersionRow.id == version_id)).first()
    if found is None:
        raise NotFound(f"no model version with id {version_id}")
    return _entity(*found)


def resolve_alias(session: Session, workflow: str, alias: str = PRODUCTION) -> ModelVersion | None:
    found = session.execute(
        _select_versions()
        .join(AliasRow, AliasRow.model_version_id == ModelVersionRow.id)
        .where(WorkflowRow.name == workflow, AliasRow.name == alias)
    ).first()
    return None if found is None else _entity(*found)


def all_aliases(session: Session, alias: str = PRODUCTION) -> dict[str, ModelVersion]:
    """Every workflow's version under `alias` (the endpoint's view of the world)."""
    rows = session.execute(
        _select_versions()
        .join(AliasRow, AliasRow.model_version_id == ModelVersionRow.id)
        .where(AliasRow.name == alias)
    ).all()
    return {name: _entity(row, name) for row, name in rows}


def previous_versions(session: Session, alias: str = PRODUCTION) -> dict[str, str]:
    """Per workflow, the version the latest move of `alias` replaced (a rollback target
    the endpoint keeps loaded)."""
    latest = (
        sa.select(AliasEventRow.workflow_id, AliasEventRow.from_version_id)
        .where(AliasEventRow.alias == alias)
        .distinct(AliasEventRow.workflow_id)
        .order_by(AliasEventRow.workflow_id, AliasEventRow.id.desc())
        .subquery()
    )
    rows = session.execute(
        sa.select(WorkflowRow.name, ModelVersionRow.version)
        .join(latest, latest.c.workflow_id == WorkflowRow.id)
        .join(ModelVersionRow, ModelVersionRow.id == latest.c.from_version_id)
    ).all()
    return dict(rows)


def move_alias(
    session: Session,
    *,
    workflow: str,
    version: str,
    actor: str,
    reason: str,
    run: RunRef = NO_RUN,
    alias: str = PRODUCTION,
    forward_only: bool = False,
) -> ModelVersion | None:
    """Point `alias` at `version`, append the event and notify listeners.

    Runs inside the caller's transaction, so the move and its history commit
    together; the alias row is locked, so concurrent moves queue and each event's
    `from` is the previous event's `to`. Returns the version the alias pointed at
    before (or None). With `forward_only`, refuses (StaleRelease) to replace a
    newer version: two releases finishing out of order keep the newer one.
    """
    if not reason.strip():
        raise ValueError("moving an alias needs a reason")
    target = get_version(session, workflow, version)
    workflow_id = ensure_workflow(session, workflow)
    inserted = session.execute(
        pg_insert(AliasRow)
        .values(workflow_id=workflow_id, name=alias, model_version_id=target.id)
        .on_conflict_do_nothing()
        .returning(AliasRow.model_version_id)
    ).first()
    previous = None
    if inserted is None:
        current = session.execute(
            sa.select(AliasRow)
            .where(AliasRow.workflow_id == workflow_id, AliasRow.name == alias)
            .with_for_update()
        ).scalar_one()
        previous = get_version_by_id(session, current.model_version_id)
        if forward_only and previous.version_int > target.version_int:
            raise StaleRelease(
                f"{workflow} {alias} is already {previous.version}, newer than {version}"
            )
        current.model_version_id = target.id
        current.updated_at = sa.func.now()
    session.add(
        AliasEventRow(
            workflow_id=workflow_id,
            alias=alias,
            from_version_id=None if previous is None else previous.id,
            to_version_id=target.id,
            actor=actor,
            reason=reason,
            **run.columns(),
        )
    )
    session.execute(sa.select(sa.func.pg_notify(ALIAS_CHANNEL, workflow)))
    return previous


def alias_history(session: Session, workflow: str, alias: str = PRODUCTION) -> list[AliasEvent]:
    from_v = sa.orm.aliased(ModelVersionRow)
    to_v = sa.orm.aliased(ModelVersionRow)
    rows = session.execute(
        sa.select(AliasEventRow, from_v.version, to_v.version)
        .join(WorkflowRow, WorkflowRow.id == AliasEventRow.workflow_id)
        .outerjoin(from_v, from_v.id == AliasEventRow.from_version_id)
        .join(to_v, to_v.id == AliasEventRow.to_version_id)
        .where(WorkflowRow.name == workflow, AliasEventRow.alias == alias)
        .order_by(AliasEventRow.id)
    ).all()
    return [
        AliasEvent(workflow, alias, old, new, ev.actor, ev.reason, ev.run_id, ev.at)
        for ev, old, new in rows
    ]
