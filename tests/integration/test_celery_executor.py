"""The CeleryExecutor profile end to end: `modelfleet up` with MODELFLEET_EXECUTOR=celery
runs a retrain__digits DAG run whose every task executes in the separate
`airflow celery worker` process (see modelfleet.harness.celery_check for the evidence).

It brings up the whole platform (embedded Postgres in a temporary home, Redis database 14)
and trains for real: about 2.5 minutes on 2 idle cores, up to 6.5 on busy ones. It needs
the Redis at 127.0.0.1:6379 and skips without it; MODELFLEET_SKIP_CELERY_TEST=1 skips it
too. `make celery-check` runs the same check and records its output.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelfleet.harness.celery_check import report, run_check
from modelfleet.host.ports import listening
from tests.integration.conftest import write_fleet

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.skipif(
    os.environ.get("MODELFLEET_SKIP_CELERY_TEST") == "1", reason="MODELFLEET_SKIP_CELERY_TEST=1"
)
def test_retrain_tasks_run_on_the_celery_worker(tmp_path: Path) -> None:
    if not listening(6379):
        pytest.skip("no Redis at 127.0.0.1:6379")
    # fewer epochs; digits alone, as only its DAG runs (the dag-processor parses less)
    fleet = write_fleet(tmp_path / "workflows.yaml", only=("digits",))
    # DB 14: neither the default platform's (0) nor `make celery-check`'s (15)
    result = run_check(tmp_path / "home", broker_url="redis://127.0.0.1:6379/14", config=fleet)
    print("\n".join(report(result)))
    assert result.failures() == []
    assert "train" in {t.task_id for t in result.tasks if t.under_worker}
