"""A user's workflows coming and going: `workflow_event` rows, append-only.

Archiving a workflow (`modelfleet workflow remove`) revokes every application's grant
of it, so no key reaches it should the name come back; the event keeps the grants it
revoked and why. Its versions, aliases and lineage stay as they are, queryable.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.registry.entities import WorkflowEvent
from modelfleet.registry.store import applications
from modelfleet.registry.store.workflows import ensure_workflow
from modelfleet.registry.tables import (
    ApplicationRow,
    GrantRow,
    WorkflowEventRow,
    WorkflowRow,
)

ADDED = "added"
ARCHIVED = "archived"


def record_added(
    session: Session, workflow: str, *, actor: str, reason: str, detail: dict[str, Any]
) -> None:
    _record(session, workflow, ADDED, actor=actor, reason=reason, detail=detail)


def archive(
    session: Session, workflow: str, *, actor: str, reason: str, detail: dict[str, Any]
) -> dict[str, str]:
    """Revoke every application's grant of `workflow` (the endpoint hears it at once)
    and record the archive with them; returns the revoked grants, application -> pin."""
    revoked = dict(
        session.execute(
            sa.select(ApplicationRow.name, GrantRow.pin)
            .join(GrantRow, GrantRow.application_id == ApplicationRow.id)
            .join(WorkflowRow, WorkflowRow.id == GrantRow.workflow_id)
            .where(WorkflowRow.name == workflow)
            .order_by(ApplicationRow.name)
        ).all()
    )
    for application in revoked:
        applications.remove_grant(session, application, workflow)
    _record(
        session,
        workflow,
        ARCHIVED,
        actor=actor,
        reason=reason,
        detail={**detail, "revoked_grants": revoked},
    )
    return revoked


def events(session: Session, workflow: str | None = None) -> list[WorkflowEvent]:
    """The events of one workflow (or all), oldest first."""
    query = (
        sa.select(WorkflowEventRow, WorkflowRow.name)
        .join(WorkflowRow, WorkflowRow.id == WorkflowEventRow.workflow_id)
        .order_by(WorkflowEventRow.id)
    )
    if workflow is not None:
        query = query.where(WorkflowRow.name == workflow)
    return [
        WorkflowEvent(name, row.event, row.actor, row.reason, dict(row.detail), row.at)
        for row, name in session.execute(query).all()
    ]


def archived(session: Session) -> dict[str, WorkflowEvent]:
    """Workflows whose latest event is an archive -> that event."""
    latest: dict[str, WorkflowEvent] = {}
    for event in events(session):
        latest[event.workflow] = event
    return {name: e for name, e in latest.items() if e.event == ARCHIVED}


def _record(
    session: Session,
    workflow: str,
    event: str,
    *,
    actor: str,
    reason: str,
    detail: dict[str, Any],
) -> None:
    session.add(
        WorkflowEventRow(
            workflow_id=ensure_workflow(session, workflow),
            event=event,
            actor=actor,
            reason=reason,
            detail=detail,
        )
    )
    session.flush()
