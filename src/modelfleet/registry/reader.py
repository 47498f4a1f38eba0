"""Plain SQL reads for a short-lived process, without SQLAlchemy.

A `Query` runs one statement in the driver's own paramstyle (psycopg2's `%(name)s`) and
returns its rows. Code that reads through a `Query` runs the same inside a Session (the
`monitor__<wf>` DAG: `session_query`) and over a bare psycopg2 connection
(`modelfleet monitor`: `direct_query`), which spares a command the import of SQLAlchemy
and of the ORM schema (about half a second of a process that lives for one report).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from modelfleet.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

Query = Callable[[str, Mapping[str, Any]], Sequence[Sequence[Any]]]

# SQLAlchemy URLs that name psycopg2, its default PostgreSQL driver; libpq reads the
# rest of such a URL (user, password, host, port, database, ?host=/socket) as they do.
_PSYCOPG2_SCHEMES = ("postgresql+psycopg2://", "postgresql://")


def session_query(session: Session) -> Query:
    """A `Query` over the session's connection (and its transaction)."""

    def query(sql: str, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        return session.connection().exec_driver_sql(sql, dict(params)).all()

    return query


def libpq_url(url: str) -> str | None:
    """`url` as libpq reads it, or None where only SQLAlchemy can (another driver)."""
    for scheme in _PSYCOPG2_SCHEMES:
        if url.startswith(scheme):
            return "postgresql://" + url[len(scheme) :]
    return None


@contextmanager
def direct_query() -> Iterator[Query]:
    """A `Query` on the lineage database over one psycopg2 connection, read-only.

    Where that does not fit (no MODELFLEET_DATABASE_URL: the embedded server, started on
    first use; another driver; a server that refuses the connection) it falls back to a
    SQLAlchemy session, so such cases start, and fail, as every other command does."""
    url = get_settings().database_url
    dsn = libpq_url(url) if url else None
    connection = _connect(dsn) if dsn else None
    if connection is None:
        yield from _session_fallback()
        return
    try:
        connection.set_session(readonly=True)

        def query(sql: str, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
            with connection.cursor() as cursor:
                cursor.execute(sql, dict(params))
                rows: list[tuple[Any, ...]] = cursor.fetchall()
                return rows

        yield query
    finally:
        connection.close()


def _connect(dsn: str) -> Any:
    import psycopg2  # type: ignore[import-untyped]  # no stubs in the lock

    try:
        return psycopg2.connect(dsn)
    except psycopg2.Error:
        return None  # the SQLAlchemy path reports it, as for any other command


def _session_fallback() -> Iterator[Query]:
    from sqlalchemy.orm import Session

    from modelfleet.registry import db

    with Session(db.engine()) as session:
        yield session_query(session)
