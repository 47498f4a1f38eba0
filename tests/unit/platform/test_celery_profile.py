"""The executor profiles: what `MODELFLEET_EXECUTOR` changes in Airflow's settings and in
the processes `modelfleet up` starts, and how the celery check judges its evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelfleet.errors import ConfigError
from modelfleet.harness.celery_check import CheckResult, TaskEvidence, report
from modelfleet.orchestration.airflow_env import airflow_env
from modelfleet.platform.up import CELERY_WORKER, PROCESSES, STAGE_MIRROR, processes
from modelfleet.settings import get_settings

DB = "postgresql+psycopg2://postgres@127.0.0.1:5432/modelfleet"


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MODELFLEET_HOME", str(tmp_path))
    for name in ("MODELFLEET_EXECUTOR", "MODELFLEET_CELERY_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_local_is_the_default(home: Path) -> None:
    settings = get_settings()
    env = airflow_env(settings, DB)
    assert settings.executor == "local"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert not [key for key in env if key.startswith("AIRFLOW__CELERY")]
    assert CELERY_WORKER not in processes(settings)


def test_celery_profile(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELFLEET_EXECUTOR", "Celery")
    monkeypatch.setenv("MODELFLEET_CELERY_BROKER_URL", "redis://10.0.0.5:6379/3")
    settings = get_settings()
    env = airflow_env(settings, DB)
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://10.0.0.5:6379/3"
    # Celery's task states go to the Airflow metadata database
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == (
        "db+postgresql+psycopg2://postgres@127.0.0.1:5432/airflow"
    )
    assert env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] == "default"
    # every process, but the stage mirror alone: the warm runner (on by default) hosts it
    assert processes(settings) == tuple(p for p in PROCESSES if p != STAGE_MIRROR)


def test_default_broker_is_the_local_redis(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELFLEET_EXECUTOR", "celery")
    env = airflow_env(get_settings(), DB)
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6379/0"


def test_unknown_executor_is_refused(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELFLEET_EXECUTOR", "kubernetes")
    with pytest.raises(ConfigError, match="MODELFLEET_EXECUTOR='kubernetes'"):
        get_settings()


def _proved() -> CheckResult:
    task = TaskEvidence(
        "train",
        state="success",
        hostname="vm",
        queue="default",
        pid=12,
        celery_id="abc",
        celery_state="SUCCESS",
        worker_log=True,
        chain=["12 airflow supervisor: x", "11 airflow supervisor: x", "10 [celeryd: ...]"],
        under_worker=True,
        under_scheduler=False,
    )
    skipped = TaskEvidence("register", state="skipped")
    return CheckResult("r", "success", 10, 9, "modelfleet@vm", "", 1.0, [task, skipped])


def test_check_judges_its_evidence() -> None:
    result = _proved()
    assert result.failures() == []
    assert report(result)[-1] == "PROVED: every task ran on the Celery worker"

    result.tasks[0].celery_state = "STARTED"
    result.tasks[0].worker_log = False
    result.scheduler_children = ["77 airflow worker -- LocalExecutor: <idle>"]
    assert result.failures() == [
        "train: Celery result backend says STARTED",
        "train: not in the worker's log",
        "the scheduler has LocalExecutor workers",
    ]


def test_a_task_under_the_scheduler_is_no_proof() -> None:
    result = _proved()
    result.tasks[0].under_worker = False
    result.tasks[0].under_scheduler = True
    assert "train: its process did not descend from the worker" in result.failures()
    assert "no task was seen running under the worker process" in result.failures()
