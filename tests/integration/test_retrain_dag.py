"""`retrain__digits` end to end through Airflow's dag.test(): real Postgres, DVC,
GTO, Great Expectations, Keras, and the live endpoint over HTTP."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from modelfleet.registry.store import runs, versions
from modelfleet.registry.tables import GateDecisionRow
from modelfleet.versioning.commands import run
from tests.integration.conftest import release_digits, write_fleet

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DAG_ID = "retrain__digits"
# Start-up noise no task log may carry: platformdirs' XDG warning, absl's and CUDA's
# start-up lines, DVC's "git add" hints (modelfleet.host.quiet, core.autostage).
NOISE = re.compile(r"XDG_RUNTIME_DIR|absl|cuda|git add", re.IGNORECASE)


def run_dag(month: str, dag_id: str = DAG_ID) -> tuple[str, dict[str, str]]:
    """Run a DAG for `month` with dag.test(); return the run state and task states."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.session import create_session

    dag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).get_dag(dag_id)
    dag_run = dag.test(run_conf={"month": month})
    with create_session() as session:
        states = {ti.task_id: ti.state for ti in dag_run.get_task_instances(session=session)}
    return dag_run.state, states


def task_records(caplog: pytest.LogCaptureFixture, task_id: str) -> list[logging.LogRecord]:
    """The log records one task of the last dag.test() emitted while it ran: through
    logging, the channel that reaches a real task log in order, in its main group
    (printed lines reached it late, under Post Execute)."""
    records = caplog.records
    starts = [i for i, r in enumerate(records) if r.getMessage().startswith(
        f"[DAG TEST] starting task_id={task_id} ")]  # fmt: skip
    ends = [i for i, r in enumerate(records) if r.getMessage().startswith(
        f"[DAG TEST] end task task_id={task_id} ")]  # fmt: skip
    assert starts and ends, f"no records of task {task_id}"
    return records[starts[-1] : ends[-1]]


def gate_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in task_records(caplog, "gate")
        if r.name == "modelfleet.pipeline.release"
    ]


@pytest.fixture()
def task_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """caplog with every record of the test's DAG runs. Airflow configures logging when
    first imported, replacing the root logger's handlers; imported here, during setup, it
    does so before pytest adds its capture handler for the test's call."""
    import airflow  # noqa: F401

    caplog.set_level(logging.INFO)
    return caplog


def noise_in(output: str) -> list[str]:
    return [line for line in output.splitlines() if NOISE.search(line)]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def production(platform) -> str | None:
    from modelfleet.registry import db

    with Session(db.engine(platform.database_url)) as session:
        found = versions.resolve_alias(session, "digits")
    return None if found is None else found.version


def endpoint_version(platform) -> str:
    response = httpx.get(
        f"{platform.endpoint_url}/v1/models/digits", headers=platform.admin_headers, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.headers["X-Model-Version"]


def gto_versions(platform) -> dict:
    out = run(
        ["gto", "show", "--json", "--repo", str(platform.home / "repo")], platform.home
    ).check()
    import json

    return json.loads(out.stdout)


@pytest.fixture()
def first_release(platform) -> None:
    """digits with v1.0.0: test_first_month's, or made here for a test run alone."""
    release_digits(platform, 1)


@pytest.fixture()
def two_releases(platform) -> None:
    """digits with v1.0.0 and v1.1.0, v1.1.0 in production, as the first two tests leave it."""
    release_digits(platform, 2)


def test_first_month_is_released_tagged_and_served(platform, tmp_path, capfd, task_logs):
    capfd.readouterr()
    state, tasks = run_dag("2026-01")
    assert state == "success", tasks
    assert set(tasks.values()) == {"success"}, tasks
    # What the tasks and their commands wrote (the DVC stages' output included) is free
    # of start-up noise; the gate logged each check and its verdict while it ran.
    output = "".join(capfd.readouterr()) + task_logs.text
    assert "train@digits" in output  # the stage's streamed output was captured
    assert not noise_in(output)
    gate = gate_lines(task_logs)
    assert any(line.startswith("gate PASS min_accuracy (absolute): value ") for line in gate)
    assert "gate verdict for digits 2026-01: PASSED (all 4 checks)" in "\n".join(gate)

    shown = gto_versions(platform)["digits"]
    assert shown["version"] == "v1.0.0"
    assert shown["stage"]["production"] == "v1.0.0"
    assert production(platform) == "v1.0.0"
    assert endpoint_version(platform) == "v1.0.0"

    # The recorded artifact is exactly what `dvc pull` restores from the remote.
    from modelfleet.registry import db

    with Session(db.engine(platform.database_url)) as session:
        recorded = versions.get_version(session, "digits", "v1.0.0")
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(platform.home / "repo"), str(clone)], tmp_path).check()
    run(["git", "checkout", "-q", "digits@v1.0.0"], clone).check()
    # One workflow's stage, as a user restoring this version would (the shared repo
    # also tracks every other workflow's files).
    run(["dvc", "pull", "train@digits"], clone).check()
    assert sha256(clone / "models/digits/model.weights.h5") == recorded.artifact_sha256


@pytest.mark.usefixtures("first_release")
def test_second_month_moves_production_and_the_endpoint_follows(platform):
    state, tasks = run_dag("2026-02")
    assert state == "success", tasks
    assert production(platform) == "v1.1.0"
    assert endpoint_version(platform) == "v1.1.0"
    tags = subprocess.run(
        ["git", "tag"], cwd=platform.home / "repo", capture_output=True, text=True
    ).stdout.split()
    assert {"digits@v1.0.0", "digits@v1.1.0"} <= set(tags)
    response = httpx.post(
        f"{platform.endpoint_url}/v1/models/digits:predict",
        json={"instances": [[[[0.0]] * 28] * 28]},
        headers=platform.admin_headers,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["model_version"] == "v1.1.0"
    assert len(response.json()["predictions"][0]) == 10


@pytest.mark.usefixtures("two_releases")
def test_worse_candidate_is_rejected_and_production_stays(platform, monkeypatch, capfd, task_logs):
    from modelfleet.registry import db

    bad = write_fleet(platform.home / "worse.yaml", epochs=1, learning_rate=0.00001)
    monkeypatch.setenv("MODELFLEET_CONFIG", str(bad))
    capfd.readouterr()
    state, tasks = run_dag("2026-03")
    assert state == "success", tasks  # a rejection is a decision, not a failure
    assert tasks["gate"] == "success"
    assert {tasks[t] for t in ("register", "deploy", "smoke")} == {"skipped"}
    # Every check, with its value and threshold, and the verdict naming the month, were
    # logged while the gate ran (a real task log's main group, ahead of Post Execute).
    gate = gate_lines(task_logs)
    checked = re.compile(r"^gate (PASS|FAIL) (\w+) \(([a-z ]+)\): value [\d.e-]+, threshold >= ")
    kinds = {m[2]: m[3] for line in gate if (m := checked.search(line))}
    assert kinds["min_accuracy"] == "absolute"
    assert kinds["max_accuracy_drop"] == kinds["max_macro_f1_drop"] == "vs production"
    assert kinds["champion_challenger"] == "holdout"
    assert any(line.startswith("gate FAIL min_accuracy (absolute)") for line in gate), gate
    verdict = [line for line in gate if line.startswith("gate verdict for digits 2026-03: ")]
    assert (
        verdict
        and "REJECTED (" in verdict[0]
        and "register, deploy and smoke are skipped" in verdict[0]
    )
    assert not noise_in("".join(capfd.readouterr()) + task_logs.text)
    with Session(db.engine(platform.database_url)) as session:
        decision = session.query(GateDecisionRow).order_by(GateDecisionRow.id.desc()).first()
        assert decision is not None and not decision.passed
        failed = {c["name"] for c in decision.checks if not c["passed"]}
        assert "min_accuracy" in failed
        assert [v.version for v in versions.list_versions(session, "digits")] == [
            "v1.0.0",
            "v1.1.0",
        ]
        assert len(runs.evaluations(session, decision.training_run_id)) == 4
    assert production(platform) == "v1.1.0"
    assert endpoint_version(platform) == "v1.1.0"
    assert gto_versions(platform)["digits"]["stage"]["production"] == "v1.1.0"


@pytest.mark.usefixtures("two_releases")
def test_month_with_leaked_test_images_stops_at_validate(platform):
    """A bad month never trains: the run fails at validate, production stays."""
    from modelfleet.config import load_fleet
    from modelfleet.datasets.deliveries import ensure_delivered
    from modelfleet.datasets.sources import source_for
    from modelfleet.registry import db
    from modelfleet.registry.tables import TrainingRunRow, ValidationRow

    workflow = load_fleet(platform.config).get("digits")
    month_dir = ensure_delivered(workflow, "2026-04", platform.home / "deliveries")
    leaked = source_for(workflow).test_set()[:3]
    for image in leaked:
        (month_dir / "train" / image.label / f"leak_{image.name}").write_bytes(image.data)
    with Session(db.engine(platform.database_url)) as session:
        trainings_before = session.query(TrainingRunRow).count()

    state, tasks = run_dag("2026-04")

    assert state == "failed"
    assert tasks["snapshot"] == "success" and tasks["validate"] == "failed"
    assert {tasks[t] for t in ("train", "evaluate", "register", "deploy")} == {"upstream_failed"}
    with Session(db.engine(platform.database_url)) as session:
        assert session.query(TrainingRunRow).count() == trainings_before
        failed = session.query(ValidationRow).order_by(ValidationRow.id.desc()).first()
        assert failed is not None and not failed.success
        assert {r["check"] for r in failed.results if not r["success"]} == {"no_test_leakage"}
        assert sorted(failed.offending_files) == sorted(
            f"train/2026-04/{i.label}/leak_{i.name}" for i in leaked
        )
        assert failed.data_docs and "data-docs/digits" in failed.data_docs
        assert failed.run_id and failed.dag_id == DAG_ID
    assert production(platform) == "v1.1.0"
    assert endpoint_version(platform) == "v1.1.0"


def test_month_without_data_skips_saying_why_in_the_main_log_group(platform, task_logs):
    _, tasks = run_dag("2031-01")
    assert tasks["snapshot"] == "skipped", tasks
    logged = [r.getMessage() for r in task_records(task_logs, "snapshot")]
    skipped = [line for line in logged if line.startswith("skipped, run for 2031-01: ")]
    assert skipped and "no data for month 2031-01" in skipped[0], logged
