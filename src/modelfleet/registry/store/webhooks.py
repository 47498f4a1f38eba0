"""The webhook outbox: events written with the state they announce, sent later."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.registry.store.workflows import ensure_workflow
from modelfleet.registry.tables import WebhookEventRow


def enqueue(session: Session, workflow: str, url: str, events: list[dict[str, Any]]) -> None:
    """Add events for `url` in the caller's transaction."""
    if not events:
        return
    workflow_id = ensure_workflow(session, workflow)
    session.execute(
        sa.insert(WebhookEventRow),
        [{"workflow_id": workflow_id, "url": url, "payload": event} for event in events],
    )


def claim_due(session: Session, limit: int = 100) -> list[WebhookEventRow]:
    """Pending events that are due, locked for this transaction; events another sender
    holds are skipped, not waited for."""
    return list(
        session.scalars(
            sa.select(WebhookEventRow)
            .where(
                WebhookEventRow.delivered_at.is_(None),
                WebhookEventRow.failed_at.is_(None),
                WebhookEventRow.next_attempt_at <= sa.func.now(),
            )
            .order_by(WebhookEventRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def record_attempt(
    row: WebhookEventRow, now: datetime, error: str | None, *, retry_in: timedelta | None
) -> None:
    """Delivered (no error), retried later (`retry_in`), or given up (neither)."""
    row.attempts += 1
    if error is None:
        row.delivered_at = now
        return
    row.last_error = error
    if retry_in is None:
        row.failed_at = now
    else:
        row.next_attempt_at = now + retry_in


def pending(session: Session) -> int:
    return (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(WebhookEventRow)
            .where(WebhookEventRow.delivered_at.is_(None), WebhookEventRow.failed_at.is_(None))
        )
        or 0
    )
