"""The fleet watch's two database ends on real Postgres: the recorded months it follows
(a new month changes its fingerprint; the same month recorded again does not), and the
parse request it writes, into Airflow's own `dag_priority_parsing_request` table as
Airflow's model defines it. A real DAG processor following the request is in
tests/integration/up/test_workflow_add.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.orchestration.dag_parsing import (
    BUNDLE,
    DAG_FILE,
    months_fingerprint,
    request_parse,
)
from modelfleet.registry.store.data_months import record_month
from tests.conftest import create_database, drop_database

pytestmark = pytest.mark.integration


def record(url: str, workflow: str, month: str) -> None:
    with Session(sa.create_engine(url)) as session, session.begin():
        record_month(session, workflow, month, "imported")


def test_a_new_month_changes_the_fingerprint_and_a_repeat_does_not(database_url: str) -> None:
    before = months_fingerprint(database_url)
    record(database_url, "dag_parsing_wf", "2026-03")
    added = months_fingerprint(database_url)
    assert added != before
    record(database_url, "dag_parsing_wf", "2026-03")  # `data import` of the month again
    assert months_fingerprint(database_url) == added


@pytest.fixture
def metadata_url(pg_server: str) -> Iterator[str]:
    """A database holding Airflow's parsing-request table, created from Airflow's model."""
    from airflow.models.dagbag import DagPriorityParsingRequest

    url = create_database(pg_server, "mf_airflow_meta")
    engine = sa.create_engine(url)
    DagPriorityParsingRequest.__table__.create(engine)
    engine.dispose()
    yield url
    drop_database(url)


def test_a_request_is_the_row_airflows_reparse_button_writes(metadata_url: str) -> None:
    from airflow.models.dagbag import DagPriorityParsingRequest

    request_parse(metadata_url)
    request_parse(metadata_url)  # asked twice before the DAG processor took it: one row

    engine = sa.create_engine(metadata_url)
    with Session(engine) as session:
        rows = session.scalars(sa.select(DagPriorityParsingRequest)).all()
        assert [(r.bundle_name, r.relative_fileloc) for r in rows] == [(BUNDLE, DAG_FILE)]
        # the id Airflow itself would give the request (its column default)
        mine = rows[0].id
        session.delete(rows[0])
        session.flush()
        session.add(DagPriorityParsingRequest(bundle_name=BUNDLE, relative_fileloc=DAG_FILE))
        session.flush()
        assert session.scalars(sa.select(DagPriorityParsingRequest.id)).one() == mine
    engine.dispose()
