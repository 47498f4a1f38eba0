"""`modelfleet up` / `stop` / `status`: the platform's processes on one machine."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from modelfleet.config import load_fleet
from modelfleet.errors import PlatformError
from modelfleet.fileops import private_dir
from modelfleet.host import identity, quiet
from modelfleet.host.processes import ProcessManager
from modelfleet.host.secret_files import restrict
from modelfleet.host.supervise import read_state
from modelfleet.orchestration.airflow_env import DEFAULT_QUEUE, airflow_env, airflow_secret_files
from modelfleet.registry import db
from modelfleet.registry.api_keys import ensure_platform_apps, key_files, secrets_dir
from modelfleet.settings import (
    CHECKOUT,
    CONFIG_ENV,
    DATABASE_URL_ENV,
    ENDPOINT_URL_ENV,
    EXECUTOR_ENV,
    HOME_ENV,
    WARM_SOCKET_ENV,
    Settings,
)
from modelfleet.versioning.repo import ModelRepo

BIN = Path(sys.executable).parent
AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
CELERY_WORKER = "airflow-celery-worker"
# Start order; `stop` goes in reverse. The Celery worker runs in the celery profile only.
WARM_RUNNER = "warm-runner"
# Mirrors Postgres aliases into GTO stages; the warm runner hosts it, so it runs alone
# only where the warm runner is off (modelfleet.warm.mirror).
STAGE_MIRROR = "stage-mirror"
# Asks the DAG processor to parse the DAG file when the fleet's files change
# (modelfleet.orchestration.dag_parsing).
FLEET_WATCH = "fleet-watch"
PROCESSES = (
    WARM_RUNNER,
    STAGE_MIRROR,
    FLEET_WATCH,
    *(f"airflow-{c}" for c in AIRFLOW_COMPONENTS),
    CELERY_WORKER,
    "endpoint",
    "ingest",
)
# `up` stops waiting for a service whose workers crashed this often (they go on restarting).
CRASHES_BEFORE_GIVING_UP_WAITING = 3


def processes(settings: Settings) -> tuple[str, ...]:
    """The processes `up` starts under this executor profile and these settings."""
    wanted = {
        CELERY_WORKER: settings.executor == "celery",
        WARM_RUNNER: settings.warm_runner,
        STAGE_MIRROR: not settings.warm_runner,
    }
    return tuple(p for p in PROCESSES if wanted.get(p, True))


def platform_env(settings: Settings, database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(airflow_env(settings, database_url))
    env.update(
        {
            HOME_ENV: str(settings.home),
            CONFIG_ENV: str(settings.config_file),
            DATABASE_URL_ENV: database_url,
            ENDPOINT_URL_ENV: settings.endpoint_url,
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    for key, value in quiet.CHILD_ENV.items():  # an operator's own setting stands
        env.setdefault(key, value)
    env.update(identity.login_env())  # Airflow and DVC need one (a uid with no passwd entry)
    # Tasks hand their dvc, gto and stage commands to the warm runner (modelfleet.warm).
    env.pop(WARM_SOCKET_ENV, None)
    if settings.warm_runner:
        env[WARM_SOCKET_ENV] = str(settings.warm_socket)
    return env


def say(message: str) -> None:
    print(f"[modelfleet] {message}", flush=True)


def up(settings: Settings) -> dict[str, str]:
    """Start everything (idempotent). Returns the environment the processes share."""
    embedded = not settings.database_url
    if embedded:
        identity.require_passwd_entry("the embedded PostgreSQL")
    fleet = load_fleet(settings.config_file)
    for folder in (
        settings.home,
        settings.run_dir,
        settings.serving_root,
        settings.lake,
        settings.quarantine,
    ):
        folder.mkdir(parents=True, exist_ok=True)
    for workflow in fleet.workflows:
        (settings.landing / workflow).mkdir(parents=True, exist_ok=True)

    say(
        "PostgreSQL: " + (f"embedded server in {settings.pgdata}" if embedded else DATABASE_URL_ENV)
    )
    url = db.database_url()
    db.ensure_database(url)  # a named server may not have the database yet
    db.ensure_database(db.airflow_database_url(url))
    say("lineage schema: alembic upgrade head")
    db.migrate(url)
    ensure_platform_apps(settings, fleet, url)
    say(f"API keys of the platform's own applications: {settings.home / 'secrets'}")
    say(f"model repository: {settings.repo} (DVC remote {settings.dvc_remote})")
    ModelRepo(settings.repo, settings.dvc_remote).init(fleet)

    env = platform_env(settings, url)
    restrict_secrets(settings)
    manager = ProcessManager(settings.run_dir)
    _check_profile(settings, manager)
    (settings.run_dir / "executor").write_text(settings.executor)
    if not manager.info("airflow-api-server").running:
        say("Airflow metadata: airflow db migrate")
        result = subprocess.run(
            [str(BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise PlatformError(
                f"airflow db migrate failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
            )
        create_pools(env)
    commands = {
        WARM_RUNNER: [str(BIN / "modelfleet"), "warm-runner"],
        STAGE_MIRROR: [str(BIN / "python"), "-m", "modelfleet.warm.mirror"],
        FLEET_WATCH: [str(BIN / "python"), "-m", "modelfleet.orchestration.dag_parsing"],
        "airflow-api-server": [
            str(BIN / "airflow"),
            "api-server",
            "--port",
            str(settings.airflow_port),
            "--workers",
            "1",
        ],
        "airflow-scheduler": [str(BIN / "airflow"), "scheduler"],
        "airflow-dag-processor": [str(BIN / "airflow"), "dag-processor"],
        "airflow-triggerer": [str(BIN / "airflow"), "triggerer"],
        # A separate process that takes task messages from Redis; on another machine the same
        # command (with the same AIRFLOW__* settings) adds capacity, e.g. `--queues tf`.
        CELERY_WORKER: [
            str(BIN / "airflow"),
            "celery",
            "worker",
            "--queues",
            DEFAULT_QUEUE,
            "--celery-hostname",
            f"modelfleet@{socket.gethostname()}",
        ],
        "endpoint": [
            str(BIN / "modelfleet"),
            "serve",
            "--port",
            _port(settings.endpoint_url),
            "--workers",
            str(settings.endpoint_workers),
        ],
        "ingest": [str(BIN / "modelfleet"), "ingest", "--workers", str(settings.ingest_workers)],
    }
    for name in processes(settings):
        info = manager.start(name, commands[name], env, CHECKOUT)
        say(f"{name}: pid {info.pid}, log {info.log}")
    wait_until(
        "Airflow api-server",
        lambda: _ok(f"{settings.airflow_url}/api/v2/monitor/health"),
        manager,
        "airflow-api-server",
    )
    restrict_secrets(settings)  # what Airflow wrote as it started (airflow.cfg, passwords)
    wait_until(
        "prediction endpoint", lambda: _ok(f"{settings.endpoint_url}/healthz"), manager, "endpoint"
    )
    return env


def restrict_secrets(settings: Settings) -> None:
    """Every secret and password file 0600, their folder 0700: at every `up`, since
    Airflow writes some of them itself with the umask's mode."""
    private_dir(secrets_dir(settings))
    for path in restrict([*airflow_secret_files(settings), *key_files(settings)]):
        say(f"{path} was readable by others; now 0600")


def create_pools(env: dict[str, str]) -> None:
    """The pool that bounds how many trainings and evaluations run at once."""
    from modelfleet.orchestration.pools import MODEL_REPO_POOL, training_slots

    result = subprocess.run(
        [
            str(BIN / "airflow"),
            "pools",
            "set",
            MODEL_REPO_POOL,
            str(training_slots()),
            "trainings and evaluations at once (CPU-bound)",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise PlatformError(
            f"cannot create the Airflow pool {MODEL_REPO_POOL}: {result.stderr[-2000:]}"
        )


def _check_profile(settings: Settings, manager: ProcessManager) -> None:
    """Refuse to mix profiles: a running scheduler keeps the executor it started with."""
    recorded = settings.run_dir / "executor"
    if not manager.info("airflow-scheduler").running or not recorded.exists():
        return
    running = recorded.read_text().strip()
    if running != settings.executor:
        raise PlatformError(
            f"the platform in {settings.home} runs the {running} executor profile; "
            f"`modelfleet stop` first to switch to {EXECUTOR_ENV}={settings.executor}"
        )


def stop(settings: Settings) -> None:
    manager = ProcessManager(settings.run_dir)
    # Every process, whatever the profile now: a worker from an earlier celery `up` stops too.
    for name in reversed(PROCESSES):
        if manager.stop(name):
            say(f"stopped {name}")
    if not settings.database_url and db.stop_embedded_server():
        say("stopped the embedded PostgreSQL")


def status(settings: Settings) -> dict[str, str]:
    """Each process: `running`, `stopped`, or for a supervised service whose workers
    keep crashing, `restarting (N crashes, last: <error>)`."""
    manager = ProcessManager(settings.run_dir)
    shown = processes(settings)
    states = {}
    for name in PROCESSES:
        info = manager.info(name)
        if name in shown or info.running:
            states[name] = _service_state(settings, name, info.pid) if info.running else "stopped"
    return states


def _service_state(settings: Settings, name: str, pid: int | None) -> str:
    """`running`, or the supervisor's summary when that process supervises workers."""
    state = read_state(settings.run_dir, name)
    if state is None or state.pid != pid:  # none, or left by an earlier run
        return "running"
    return state.summary()


def wait_until(
    what: str,
    check: Callable[[], bool],
    manager: ProcessManager,
    process: str,
    timeout_s: float = 240,
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            say(f"{what} is up")
            return
        info = manager.info(process)
        if not info.running:
            raise PlatformError(f"{what} died; see {manager.log(process)}")
        state = read_state(manager.run_dir, process)
        if (
            state is not None
            and state.pid == info.pid
            and state.restarting
            and state.crashes >= CRASHES_BEFORE_GIVING_UP_WAITING
        ):
            raise PlatformError(
                f"{what} is {state.summary()}; see {manager.log(process)}. Its supervisor "
                "goes on restarting it; `modelfleet stop` ends it"
            )
        time.sleep(2)
    raise PlatformError(f"{what} not up after {timeout_s:.0f}s; see {manager.log(process)}")


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _port(url: str) -> str:
    return str(httpx.URL(url).port or 80)
