"""`retrain__digits` end to end through Airflow's dag.test(): real Postgres, DVC,
GTO, Great Expectations, Keras, and the live endpoint over HTTP."""

from __future__ import annotations

import hashlib
import os
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


def run_dag(month: str, dag_id: str = DAG_ID) -> tuple[str, dict[str, str]]:
    """Run a DAG for `month` with dag.test(); return the run state and task states."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.session import create_session

    dag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).get_dag(dag_id)
    dag_run = dag.test(run_conf={"month": month})
    with create_session() as session:
        states = {ti.task_id: ti.state for ti in dag_run.get_task_instances(session=session)}
    return dag_run.state, states


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


def test_first_month_is_released_tagged_and_served(platform, tmp_path):
    state, tasks = run_dag("2026-01")
    assert state == "success", tasks
    assert set(tasks.values()) == {"success"}, tasks

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
def test_worse_candidate_is_rejected_and_production_stays(platform, monkeypatch):
    from modelfleet.registry import db

    bad = write_fleet(platform.home / "worse.yaml", epochs=1, learning_rate=0.00001)
    monkeypatch.setenv("MODELFLEET_CONFIG", str(bad))
    state, tasks = run_dag("2026-03")
    assert state == "success", tasks  # a rejection is a decision, not a failure
    assert tasks["gate"] == "success"
    assert {tasks[t] for t in ("register", "deploy", "smoke")} == {"skipped"}
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
