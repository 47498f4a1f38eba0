"""Integration fixtures: a running platform minus the Airflow daemons.

Real Postgres (lineage + Airflow metadata), a real model repository with a local
DVC remote, the real endpoint as a subprocess over HTTP, and the warm runner that runs
the tasks' dvc, gto and stage commands (as `modelfleet up` does; the stage mirror
aside). DAG runs go through Airflow's `dag.test()`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from modelfleet.host.environment import environment
from modelfleet.host.ports import free_port
from modelfleet.settings import CHECKOUT
from tests.conftest import create_database, drop_database

BIN = Path(sys.executable).parent


def write_fleet(
    path: Path,
    gate: dict | None = None,
    smoke: dict | None = None,
    only: tuple[str, ...] | None = None,
    **param_overrides: object,
) -> Path:
    """The checkout's fleet with quicker training (and any overrides). With `only`, just
    those workflows and no declared applications (their grants name the others): a
    platform that starts its own dag-processor parses a fleet that small in seconds."""
    doc = yaml.safe_load((CHECKOUT / "workflows.yaml").read_text())
    doc["defaults"]["params"].update({"epochs": 8, **param_overrides})
    doc["defaults"]["gate"].update(gate or {})
    doc["defaults"]["smoke"].update(smoke or {})
    if only is not None:
        doc["workflows"] = {name: doc["workflows"][name] for name in only}
        doc.pop("applications", None)
    path.write_text(yaml.safe_dump(doc))
    return path


def frozen_test_image(workflow: str = "digits") -> bytes:
    """One image of the workflow's frozen test set (never part of any month)."""
    from modelfleet.config import load_fleet
    from modelfleet.datasets.sources import source_for

    return source_for(load_fleet().get(workflow)).test_set()[0].data


def workspace_of(workflow: str, version: str) -> Path:
    """The workspace (git worktree) of the run that produced `version`."""
    from sqlalchemy.orm import Session

    from modelfleet.registry import db
    from modelfleet.registry.store import versions
    from modelfleet.settings import get_settings
    from modelfleet.versioning.workspace import workspace_path

    with Session(db.engine()) as session:
        run_id = versions.get_version(session, workflow, version).run_id
    return workspace_path(get_settings(), workflow, run_id)


# The module that starts digits' history on the session platform: its first tests assert
# a first release (no production to compare with, v1.0.0), then v1.1.0. Every other
# module gets a released digits through release_digits, whatever ran before it, so this
# one runs as the platform's first: just before the first test that uses the platform
# (the tests before that one run, as they always did, without the platform's variables).
FIRST_MODULE = "test_retrain_dag.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    first = [item for item in items if item.path.name == FIRST_MODULE]
    rest = [item for item in items if item.path.name != FIRST_MODULE]
    at = next((n for n, item in enumerate(rest) if "platform" in item.fixturenames), len(rest))
    items[:] = rest[:at] + first + rest[at:]


@dataclass
class Platform:
    home: Path
    database_url: str
    airflow_url: str
    endpoint_url: str
    config: Path
    env: dict[str, str]

    @property
    def admin_headers(self) -> dict[str, str]:
        """The platform's admin key, as smoke tests and the CLI send it."""
        from modelfleet.registry.api_keys import auth_headers
        from modelfleet.settings import get_settings

        return auth_headers(get_settings())


@pytest.fixture(scope="session")
def platform(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    from modelfleet.registry.db import migrate

    home = tmp_path_factory.mktemp("home")
    lineage_url = create_database(pg_server, "mf_it")
    airflow_url = create_database(pg_server, "mf_it_airflow")
    migrate(lineage_url)
    env = {
        "MODELFLEET_HOME": str(home),
        "MODELFLEET_DATABASE_URL": lineage_url,
        "MODELFLEET_CONFIG": str(write_fleet(home / "workflows.yaml")),
        "MODELFLEET_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "MODELFLEET_GRPC_PORT": str(free_port()),  # the endpoint's gRPC, not 8500
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_url,
        "AIRFLOW__CORE__DAGS_FOLDER": str(CHECKOUT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "GX_ANALYTICS_ENABLED": "false",
        # Stage commands, dvc and gto go to a warm runner, as under `modelfleet up`.
        "MODELFLEET_WARM_SOCKET": str(home / "warm.sock"),
    }
    with environment({**env}):  # restored when the session ends
        if "airflow.settings" in sys.modules:
            # A test module imported Airflow at collection, and Airflow read its database
            # and DAG folder from the environment then (SQLite by default): point it here.
            from airflow import settings as airflow_settings

            airflow_settings.configure_vars()
            airflow_settings.configure_orm()
        endpoint = runner = None
        try:
            # The platform's warm runner, as `modelfleet up` starts one, without the stage
            # mirror: the tests move GTO stages themselves (test_stage_mirror starts one
            # with it). It preloads while Airflow's database migrates.
            runner = start_warm_runner(home / "warm.sock", home / "warm.log", stage_mirror=False)
            migrated = subprocess.run(
                [str(BIN / "airflow"), "db", "migrate"],
                capture_output=True,
                text=True,
                env=dict(os.environ),
            )
            assert migrated.returncode == 0, migrated.stdout[-2000:] + migrated.stderr[-2000:]
            from modelfleet.platform.up import create_pools

            create_pools(dict(os.environ))
            from modelfleet.config import load_fleet
            from modelfleet.registry.api_keys import ensure_platform_apps
            from modelfleet.settings import get_settings
            from modelfleet.versioning.repo import ModelRepo

            settings = get_settings()
            ModelRepo(settings.repo, settings.dvc_remote).init(load_fleet())
            ensure_platform_apps(settings, load_fleet(), lineage_url)
            port = httpx.URL(env["MODELFLEET_ENDPOINT_URL"]).port
            log = (home / "endpoint.log").open("w")
            endpoint = subprocess.Popen(
                [str(BIN / "modelfleet"), "serve", "--port", str(port)],
                env=dict(os.environ),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            wait_http(f"{env['MODELFLEET_ENDPOINT_URL']}/healthz", endpoint, home / "endpoint.log")
            wait_listening(runner, home / "warm.log")
            yield Platform(
                home,
                lineage_url,
                airflow_url,
                env["MODELFLEET_ENDPOINT_URL"],
                Path(env["MODELFLEET_CONFIG"]),
                env,
            )
        finally:
            if endpoint is not None:
                endpoint.terminate()
                endpoint.wait(20)
            if runner is not None:
                runner.terminate()
                runner.wait(30)
            drop_database(lineage_url)
            drop_database(airflow_url)
            shutil.rmtree(home / "repo", ignore_errors=True)


def start_warm_runner(
    socket: Path, log: Path, *, stage_mirror: bool, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """`modelfleet warm-runner` on `socket`, its output in `log`; `wait_listening` waits
    for its imports."""
    mirror = "--stage-mirror" if stage_mirror else "--no-stage-mirror"
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(BIN / "modelfleet"), "warm-runner", "--socket", str(socket), mirror],
            env=env if env is not None else dict(os.environ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_listening(runner: subprocess.Popen, log: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while "warm runner listening" not in log.read_text():
        if runner.poll() is not None:
            raise RuntimeError(f"warm runner exited: {log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"warm runner not listening in {timeout_s} s")
        time.sleep(0.5)


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"endpoint exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"endpoint not up: {log.read_text()[-3000:]}")


def all_versions(platform: Platform, workflow: str = "digits") -> list[str]:
    from sqlalchemy.orm import Session

    from modelfleet.registry import db
    from modelfleet.registry.store import versions

    with Session(db.engine(platform.database_url)) as session:
        return [v.version for v in versions.list_versions(session, workflow)]


def loaded(platform: Platform, workflow: str = "digits") -> list[str]:
    """The versions the endpoint has loaded, by its /healthz."""
    health = httpx.get(f"{platform.endpoint_url}/healthz", timeout=10).json()
    return health["loaded"][workflow]


def eventually(check, timeout_s: float = 30.0):  # type: ignore[no-untyped-def]
    """`check()` once it is truthy, or its last falsy result after `timeout_s`. NOTIFY
    makes the endpoint react at once; its polling fallback bounds it at 5 s."""
    deadline = time.monotonic() + timeout_s
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return result


# The months test_retrain_dag releases digits for, in order: v1.0.0, then v1.1.0.
FIRST_MONTHS = ("2026-01", "2026-02")


def release_digits(platform: Platform, count: int) -> None:
    """digits with at least `count` (1 or 2) versions, released by real DAG runs of
    FIRST_MONTHS, as test_retrain_dag's first tests leave it. Run after them (the full
    suite) it runs nothing; run alone (`pytest path::test`) a test gets them here."""
    from tests.integration.test_retrain_dag import run_dag

    for month in FIRST_MONTHS[len(all_versions(platform)) : count]:
        state, tasks = run_dag(month)
        assert state == "success", tasks


def release_first_month(platform: Platform, workflow: str) -> None:
    """`workflow` with a version (its DAG run for the first month) unless an earlier
    test released one."""
    from tests.integration.test_retrain_dag import run_dag

    if not all_versions(platform, workflow):
        state, tasks = run_dag(FIRST_MONTHS[0], dag_id=f"retrain__{workflow}")
        assert state == "success", tasks


@pytest.fixture(scope="session")
def served(platform: Platform) -> Platform:
    """digits with at least two versions (real DAG runs), the endpoint serving production."""
    from modelfleet.endpoint_client import EndpointClient
    from tests.integration.test_retrain_dag import production

    release_digits(platform, 2)
    with EndpointClient(
        platform.endpoint_url, headers=platform.admin_headers, timeout=10
    ) as client:
        client.wait_for_version("digits", production(platform))
    return platform


def promote(platform: Platform, endpoint_url: str, version: str, reason: str) -> httpx.Response:
    """Move digits' production through the endpoint's admin route."""
    return httpx.post(
        f"{endpoint_url}/admin/models/digits/promote",
        json={"version": version, "reason": reason},
        headers=platform.admin_headers,
        timeout=60,
    )


@contextmanager
def under_load(
    send: Callable[[], httpx.Response], clients: int = 4
) -> Iterator[list[tuple[int, str | None]]]:
    """`clients` threads calling `send` in a loop while the block runs. Yields, growing,
    (status, X-Model-Version) of every answer; status 0 is a transport error."""
    seen: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                response = send()
                seen.append((response.status_code, response.headers.get("X-Model-Version")))
            except httpx.HTTPError as exc:
                seen.append((0, repr(exc)))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)  # traffic before the change
        yield seen
        time.sleep(1.0)  # and after it
    finally:
        stop.set()
        for thread in threads:
            thread.join()
