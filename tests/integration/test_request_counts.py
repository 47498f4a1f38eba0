"""Request counts against real Postgres (registry/store/request_counts.py): endpoint
workers adding to the same minutes at once lose nothing and never deadlock; a workflow
the registry does not know is skipped; a window sums the minutes that begin in it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.registry.monitor_reads import window_requests
from modelfleet.registry.reader import session_query
from modelfleet.registry.store.request_counts import MinuteCount, RequestCountWriter
from modelfleet.registry.store.workflows import ensure_workflow

pytestmark = pytest.mark.integration

WORKFLOW = "counted_line"
FIRST = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
MINUTES = [FIRST + timedelta(minutes=i) for i in range(5)]


@pytest.fixture
def engine(database_url):
    engine = sa.create_engine(database_url)
    with Session(engine) as session, session.begin():
        workflow_id = ensure_workflow(session, WORKFLOW)
    yield engine
    with engine.begin() as conn:
        conn.execute(
            sa.text("DELETE FROM request_count WHERE workflow_id = :w"), {"w": workflow_id}
        )
    engine.dispose()


def test_workers_adding_to_the_same_minutes_at_once_lose_nothing(engine):
    # Four "workers", each adding 30 batches over the same five minutes, two of them in
    # the reverse order: without one lock order, two upserts would deadlock.
    def worker(reverse: bool) -> None:
        write = RequestCountWriter(engine)
        for _ in range(30):
            batch = [MinuteCount(WORKFLOW, m, answered=2, rejected=1) for m in MINUTES]
            assert write(batch[::-1] if reverse else batch) == len(MINUTES)

    threads = [threading.Thread(target=worker, args=(i % 2 == 1,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with Session(engine) as session:
        query = session_query(session)
        workflow_id = ensure_workflow(session, WORKFLOW)
        # 4 workers x 30 batches x 5 minutes
        whole = window_requests(query, workflow_id, FIRST, FIRST + timedelta(hours=1))
        assert whole == (1200, 600, 0)
        # a window sums the minutes that begin in it: [10:01, 10:03) holds two
        part = window_requests(query, workflow_id, MINUTES[1], MINUTES[3])
        assert part == (480, 240, 0)
        rows = session.execute(sa.text(
            "SELECT count(*) FROM request_count WHERE workflow_id = :w"), {"w": workflow_id}
        ).scalar_one()  # fmt: skip
    assert rows == len(MINUTES)  # one row per minute, whichever worker came first


def test_a_workflow_the_registry_does_not_know_is_skipped(engine):
    write = RequestCountWriter(engine)
    counted = write(
        [MinuteCount("never_declared", FIRST, failed=9), MinuteCount(WORKFLOW, FIRST, failed=1)]
    )
    assert counted == 1
    with engine.connect() as conn:
        names = conn.execute(sa.text(
            "SELECT w.name, c.failed FROM request_count c JOIN workflow w ON w.id = c.workflow_id "
            "WHERE c.minute = :m"), {"m": FIRST}).all()  # fmt: skip
    assert [tuple(r) for r in names] == [(WORKFLOW, 1)]
