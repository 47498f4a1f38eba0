"""`modelfleet retrain --wait` against the real platform (this package's: `modelfleet up`
in a temporary home, see conftest.py), and the CLI as a real process. One month of digits
is released (exit 0, the version printed is the one in Postgres); a month without data
skips (exit 4); a paused DAG is refused with the fix. A release costs about two minutes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tests.helpers.running_platform import RunningPlatform

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BIN = Path(sys.executable).parent
WORKFLOW = "digits"


def retrain(*args: str, timeout_s: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "modelfleet"), "retrain", WORKFLOW, *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=timeout_s,
    )


def test_a_paused_dag_is_refused_with_the_fix(platform: RunningPlatform) -> None:
    from modelfleet.orchestration.airflow_client import AirflowClient
    from modelfleet.orchestration.airflow_env import ADMIN_USER, admin_password
    from modelfleet.settings import get_settings

    settings = get_settings()
    client = AirflowClient(settings.airflow_url, ADMIN_USER, admin_password(settings))
    client.wait_for_dag(f"retrain__{WORKFLOW}")
    client.set_paused(f"retrain__{WORKFLOW}", True)

    done = retrain("--month", "2026-02", "--wait")

    assert done.returncode == 1, done.stdout + done.stderr
    assert "retrain__digits is paused" in done.stderr
    assert "--unpause" in done.stderr
    assert client.runs(f"retrain__{WORKFLOW}", run_type="manual") == []  # nothing triggered


def test_retrain_wait_releases_a_month_and_prints_the_version(platform: RunningPlatform) -> None:
    from modelfleet.registry import db
    from modelfleet.registry.store import versions

    done = retrain("--month", "2026-02", "--unpause", "--wait", "--timeout", "20")

    print(done.stdout, done.stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    with Session(db.engine(os.environ["MODELFLEET_DATABASE_URL"])) as session:
        production = versions.resolve_alias(session, WORKFLOW)
    assert production is not None
    assert f"released {production.tag} (digits 2026-02): now in production" in done.stdout
    assert "gate passed:" in done.stdout
    assert "snapshot  success" in done.stdout  # progress: each task's state change
    assert "smoke     success" in done.stdout


def test_retrain_wait_on_a_month_without_data_exits_4(platform: RunningPlatform) -> None:
    done = retrain("--month", "2027-06", "--unpause", "--wait", "--timeout", "10")

    print(done.stdout, done.stderr)
    # Refused before a run is made, with the exit code such a run would end with; the
    # months with data are listed, the frozen test set's delivery folder not among them.
    assert done.returncode == 4, done.stdout + done.stderr
    assert "workflow 'digits' has no data for month 2027-06; months with data: 2026-01, " in (
        done.stderr
    )
    assert "test-set" not in done.stderr
    assert "triggered" not in done.stdout
