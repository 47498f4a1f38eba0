"""Workflow rows: created on first use."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from modelfleet.errors import NotFound
from modelfleet.registry.tables import WorkflowRow


def ensure_workflow(session: Session, name: str) -> int:
    """Return the id of workflow `name`, inserting it if new (race-safe)."""
    session.execute(insert(WorkflowRow).values(name=name).on_conflict_do_nothing())
    return session.execute(sa.select(WorkflowRow.id).where(WorkflowRow.name == name)).scalar_one()


def workflow_id(session: Session, name: str) -> int:
    found = session.execute(sa.select(WorkflowRow.id).where(WorkflowRow.name == name)).scalar()
    if found is None:
        raise NotFound(f"workflow {name!r} has no records yet")
    return found


def workflow_names(session: Session) -> list[str]:
    return list(session.scalars(sa.select(WorkflowRow.name).order_by(WorkflowRow.name)))
