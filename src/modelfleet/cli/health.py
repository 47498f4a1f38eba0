"""`modelfleet status`'s health checks: does each service answer, not only is its pid alive.

Postgres answers `SELECT 1`; the Airflow api-server and the endpoint their health URLs;
the scheduler, dag-processor and triggerer are judged by the api-server's health
report (they heartbeat into the metadata database); the warm runner by a connect to
its socket. The stage mirror, the stream classifier and the Celery worker have nothing
to ask: their pid is all there is (`unchecked`).

Each check has a short timeout: a hung service shows as down, it never hangs `status`.
"""

from __future__ import annotations

import socket
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelfleet.settings import Settings

TIMEOUT_S = 3.0
UP, DOWN, UNCHECKED = "up", "down", "unchecked"
# process name -> its key in Airflow's /api/v2/monitor/health
AIRFLOW_COMPONENTS = {
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag_processor",
    "airflow-triggerer": "triggerer",
}


@dataclass(frozen=True)
class Health:
    """One service: `process` is `status`'s pid state (running, stopped, restarting
    (...), or for Postgres external/embedded); `health` up, down or unchecked."""

    name: str
    process: str
    health: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_all(settings: Settings, processes: dict[str, str]) -> list[Health]:
    """Postgres first, then every process `status` lists, each with its health."""
    airflow = _airflow_report(settings)
    rows = [_postgres(settings)]
    for name, state in processes.items():
        if name == "airflow-api-server":
            health, detail = airflow[0], airflow[1]
        elif name in AIRFLOW_COMPONENTS:
            health, detail = _component(airflow, AIRFLOW_COMPONENTS[name])
        elif name == "endpoint":
            health, detail = _http(f"{settings.endpoint_url}/healthz")
        elif name == "warm-runner":
            health, detail = _socket(str(settings.warm_socket))
        else:
            health, detail = UNCHECKED, "no health check; the pid only"
        rows.append(Health(name, state, health, detail))
    return rows


def _postgres(settings: Settings) -> Health:
    import sqlalchemy as sa

    from modelfleet.registry import db

    if settings.database_url:
        process, url = "external", settings.database_url
    else:
        process = "embedded"
        if not (settings.pgdata / "postmaster.pid").exists():  # never start it to ask
            return Health("postgres", process, DOWN, f"not running in {settings.pgdata}")
        url = db.database_url()
    where = sa.engine.make_url(url).render_as_string(hide_password=True)
    engine = sa.create_engine(url, connect_args={"connect_timeout": int(TIMEOUT_S)})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        first_line = str(exc.orig if hasattr(exc, "orig") else exc).strip().splitlines()[0]
        return Health("postgres", process, DOWN, f"{where}: {first_line}")
    finally:
        engine.dispose()
    return Health("postgres", process, UP, f"SELECT 1 at {where}")


def _http(url: str) -> tuple[str, str]:
    health, detail, _ = _get(url)
    return health, detail


def _get(url: str) -> tuple[str, str, Any]:
    """GET `url`: up/down, what it answered, and its JSON body (None if it has none)."""
    import httpx

    try:
        response = httpx.get(url, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        return DOWN, f"GET {url}: {type(exc).__name__}", None
    if response.status_code != 200:
        return DOWN, f"GET {url}: HTTP {response.status_code}", None
    try:
        body = response.json()
    except ValueError:
        body = None
    return UP, f"GET {url}: 200", body


def _airflow_report(settings: Settings) -> tuple[str, str, dict[str, Any]]:
    """The api-server's own health, its detail and the report it gives of the rest."""
    health, detail, body = _get(f"{settings.airflow_url}/api/v2/monitor/health")
    return health, detail, body if isinstance(body, dict) else {}


def _component(airflow: tuple[str, str, dict[str, Any]], key: str) -> tuple[str, str]:
    health, _, report = airflow
    if health != UP:
        return DOWN, "the Airflow api-server does not answer to report on it"
    state = (report.get(key) or {}).get("status")
    heartbeat = (report.get(key) or {}).get(f"latest_{key}_heartbeat")
    detail = f"Airflow reports {state or 'nothing'}" + (
        f" (last heartbeat {heartbeat})" if heartbeat else ""
    )
    return (UP if state == "healthy" else DOWN), detail


def _socket(path: str) -> tuple[str, str]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(TIMEOUT_S)
        try:
            sock.connect(path)
        except OSError as exc:
            return DOWN, f"connect {path}: {exc.strerror or exc}"
    return UP, f"accepts connections at {path}"
