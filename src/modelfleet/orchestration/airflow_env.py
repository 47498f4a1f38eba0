"""The Airflow configuration every Airflow component shares (as AIRFLOW__* env vars)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from modelfleet.host.secret_files import write_secret
from modelfleet.naming import LINEAGE_NAMESPACE
from modelfleet.orchestration.dag_parsing import RESCAN_S
from modelfleet.registry.db import airflow_database_url
from modelfleet.settings import CHECKOUT, Settings

ADMIN_USER = "admin"
# The queue every task goes to unless it names another (see docs/operations.md: a `tf` queue).
DEFAULT_QUEUE = "default"


def _secrets(settings: Settings) -> dict[str, str]:
    """JWT/API secrets and the admin password, generated once per MODELFLEET_HOME."""
    path = _secrets_file(settings)
    if path.exists():
        return json.loads(path.read_text())
    values = {
        "jwt_secret": secrets.token_urlsafe(32),
        "api_secret": secrets.token_urlsafe(32),
        "admin_password": secrets.token_urlsafe(9),
    }
    write_secret(path, json.dumps(values))
    return values


def _secrets_file(settings: Settings) -> Path:
    return settings.airflow_home / "modelfleet-secrets.json"


def passwords_file(settings: Settings) -> Path:
    return settings.airflow_home / "passwords.json"


def airflow_secret_files(settings: Settings) -> list[Path]:
    """The files under AIRFLOW_HOME that hold secrets: ours, the login passwords (which
    the simple auth manager also writes), and airflow.cfg (Airflow writes its Fernet key
    there, which encrypts the passwords of connections)."""
    home = settings.airflow_home
    return [_secrets_file(settings), passwords_file(settings), home / "airflow.cfg"]


def admin_password(settings: Settings) -> str:
    return _secrets(settings)["admin_password"]


def airflow_env(settings: Settings, database_url: str) -> dict[str, str]:
    values = _secrets(settings)
    pw_file = passwords_file(settings)
    write_secret(pw_file, json.dumps({ADMIN_USER: values["admin_password"]}))
    base = settings.airflow_url
    metadata_url = airflow_database_url(database_url)
    env = {
        "AIRFLOW_HOME": str(settings.airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_FOLDER": str(CHECKOUT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(CHECKOUT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(pw_file),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": values["jwt_secret"],
        "AIRFLOW__API__SECRET_KEY": values["api_secret"],
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        # The DAG file is parsed when the fleet changes (dag_parsing: `fleet-watch` asks),
        # and on this timer only as a safety net. A workflow added to workflows.d appears
        # at that parse, seconds after; one archived is marked stale once a parse that
        # finished 10 s after its own last one is seen by the cleanup (every 10 s). Both
        # within the minute `workflow add` promises. The threshold can be small: a parse
        # stamps its DAGs after the file's finish time.
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": str(RESCAN_S),
        "AIRFLOW__DAG_PROCESSOR__STALE_DAG_THRESHOLD": "10",
        "AIRFLOW__SCHEDULER__PARSING_CLEANUP_INTERVAL": "10",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        # A fleet's runs queue behind one another for the model repo; don't fail them.
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "7200",
    }
    env.update(openlineage_env(settings))
    if settings.executor == "celery":
        env.update(celery_env(settings, metadata_url))
    return env


# The extractor of the retrain tasks' datasets and facets (docs/openlineage.md).
LINEAGE_EXTRACTOR = "modelfleet.orchestration.lineage_facets.RetrainTaskExtractor"


def openlineage_env(settings: Settings) -> dict[str, str]:
    """Airflow's OpenLineage provider: events to a file under $MODELFLEET_HOME/openlineage/
    or to MODELFLEET_OPENLINEAGE_URL; `disabled` when MODELFLEET_OPENLINEAGE=off (the
    provider then loads no listener and logs nothing)."""
    transport = settings.openlineage_transport("airflow")
    if transport is None:
        return {"AIRFLOW__OPENLINEAGE__DISABLED": "True"}
    if transport["type"] == "file":
        settings.openlineage_dir.mkdir(parents=True, exist_ok=True)  # the transport won't
    return {
        "AIRFLOW__OPENLINEAGE__DISABLED": "False",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": LINEAGE_NAMESPACE,
        "AIRFLOW__OPENLINEAGE__EXTRACTORS": LINEAGE_EXTRACTOR,
        # Emit from a thread of the task process, not a fork of it per event: the process
        # waits for either, and the thread keeps one client from START to COMPLETE (about
        # 0.03 s less an event, docs/benchmarks.md). A fork also inherits a copy of the
        # supervisor's socket, which the provider names as a way to strand a task.
        "AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD": "True",
    }


def celery_env(settings: Settings, metadata_url: str) -> dict[str, str]:
    """The CeleryExecutor profile: Redis carries the task messages, and Celery's task
    states go to the Airflow metadata database (no second store to run or back up)."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": settings.celery_broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata_url}",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": DEFAULT_QUEUE,
        # As many task slots as the scheduler may fill (core.parallelism above).
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
        # Redis re-delivers a message not acked within this long (acks come at task end): a
        # task running longer would run twice. The provider's default, stated as the limit.
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "86400",
    }
