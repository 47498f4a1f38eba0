"""The real platform for a test module: `modelfleet up` (Airflow's api-server, scheduler
and dag-processor, the endpoint, the stream classifier) in a temporary home on the test
Postgres server, stopped and its databases dropped afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from modelfleet.host.environment import environment
from modelfleet.host.ports import free_port
from tests.conftest import create_database, drop_database


@dataclass(frozen=True)
class RunningPlatform:
    home: Path
    database_url: str
    env: dict[str, str]  # what the test's environment holds while the platform runs

    def airflow(self):  # type: ignore[no-untyped-def]
        """A REST client of its Airflow, logged in as the admin."""
        from modelfleet.orchestration.airflow_client import AirflowClient
        from modelfleet.orchestration.airflow_env import ADMIN_USER, admin_password
        from modelfleet.settings import get_settings

        settings = get_settings()
        return AirflowClient(settings.airflow_url, ADMIN_USER, admin_password(settings))

    @property
    def endpoint_url(self) -> str:
        return self.env["MODELFLEET_ENDPOINT_URL"]

    @property
    def admin_headers(self) -> dict[str, str]:
        from modelfleet.registry.api_keys import auth_headers
        from modelfleet.settings import get_settings

        return auth_headers(get_settings())


@contextmanager
def running_platform(
    pg_server: str, home: Path, fleet_file: Path, extra_env: dict[str, str] | None = None
) -> Iterator[RunningPlatform]:
    """`modelfleet up` with `fleet_file` as workflows.yaml; `extra_env` (S3 variables, ...)
    is in the environment before `up`, so every process it starts inherits it."""
    from modelfleet.platform.up import stop, up
    from modelfleet.registry.db import airflow_database_url
    from modelfleet.settings import get_settings

    lineage_url = create_database(pg_server, "mf_platform")
    env = {
        **(extra_env or {}),
        "MODELFLEET_HOME": str(home),
        "MODELFLEET_DATABASE_URL": lineage_url,
        "MODELFLEET_CONFIG": str(fleet_file),
        "MODELFLEET_AIRFLOW_PORT": str(free_port()),
        "MODELFLEET_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "MODELFLEET_GRPC_PORT": str(free_port()),  # not 8500: a platform of its own
        "MODELFLEET_INGEST_WORKERS": "1",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
    }
    with environment({**env}):
        try:
            up(get_settings())
            yield RunningPlatform(home, lineage_url, env)
        finally:
            stop(get_settings())
            drop_database(airflow_database_url(lineage_url))
            drop_database(lineage_url)
