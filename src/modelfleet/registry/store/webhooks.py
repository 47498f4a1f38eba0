"""The webhook outbox: events written with the state they announce, sent later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


def claim_due(
    session: Session, limit: int, lease: timedelta
) -> list[tuple[int, str, dict[str, Any]]]:
    """Up to `limit` pending events that are due, as (id, url, payload), leased for
    `lease`: not due again until then, so other senders pass them by while this one
    POSTs outside any transaction, and take them up if it dies."""
    rows = session.execute(
        sa.select(WebhookEventRow.id, WebhookEventRow.url, WebhookEventRow.payload)
        .where(
            WebhookEventRow.delivered_at.is_(None),
            WebhookEventRow.failed_at.is_(None),
            WebhookEventRow.next_attempt_at <= sa.func.now(),
        )
        .order_by(WebhookEventRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if rows:
        session.execute(
            sa.update(WebhookEventRow)
            .where(WebhookEventRow.id.in_([r.id for r in rows]))
            .values(next_attempt_at=sa.func.now() + lease)
        )
    return [(r.id, r.url, r.payload) for r in rows]


def record_attempt(
    session: Session, event_id: int, error: str | None, *, max_attempts: int
) -> tuple[int, bool]:
    """Delivered (no error), or due again after a backoff (1, 2, 4 ... 60 s), or given
    up after `max_attempts`. Returns (attempts so far, given up)."""
    row = session.get(WebhookEventRow, event_id, with_for_update=True)
    assert row is not None  # rows are never deleted by the senders
    row.attempts += 1
    now = datetime.now(UTC)
    if error is None:
        row.delivered_at = now
        return row.attempts, False
    row.last_error = error
    if row.attempts >= max_attempts:
        row.failed_at = now
        return row.attempts, True
    row.next_attempt_at = now + timedelta(seconds=min(2.0 ** (row.attempts - 1), 60.0))
    return row.attempts, False


def pending(session: Session, url: str | None = None) -> int:
    """Events neither delivered nor given up on (for one receiver's `url`, or all)."""
    query = (
        sa.select(sa.func.count())
        .select_from(WebhookEventRow)
        .where(WebhookEventRow.delivered_at.is_(None), WebhookEventRow.failed_at.is_(None))
    )
    if url is not None:
        query = query.where(WebhookEventRow.url == url)
    return session.scalar(query) or 0
