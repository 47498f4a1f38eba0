"""The Airflow configuration every Airflow component shares (as AIRFLOW__* env vars)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from modelfleet.db import AIRFLOW_DB, with_database
from modelfleet.settings import CHECKOUT, Settings

ADMIN_USER = "admin"


def _secrets(settings: Settings) -> dict[str, str]:
    """JWT/API secrets and the admin password, generated once per MODELFLEET_HOME."""
    path = settings.airflow_home / "modelfleet-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    values = {
        "jwt_secret": secrets.token_urlsafe(32),
        "api_secret": secrets.token_urlsafe(32),
        "admin_password": secrets.token_urlsafe(9),
    }
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


def passwords_file(settings: Settings) -> Path:
    return settings.airflow_home / "passwords.json"


def admin_password(settings: Settings) -> str:
    return _secrets(settings)["admin_password"]


def airflow_env(settings: Settings, database_url: str) -> dict[str, str]:
    values = _secrets(settings)
    pw_file = passwords_file(settings)
    pw_file.write_text(json.dumps({ADMIN_USER: values["admin_password"]}))
    base = settings.airflow_url
    return {
        "AIRFLOW_HOME": str(settings.airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": with_database(database_url, AIRFLOW_DB),
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
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        # A fleet's runs queue behind one another for the model repo; don't fail them.
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "7200",
    }
