"""The Models app in-process, mounted at /models as Airflow mounts it, over a real
Postgres registry. Who the caller is comes through the `access` seam: the header
`X-Test-User` names a user of `USERS` (none: 401, as Airflow answers)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from modelfleet.naming import MODELS_UI_MOUNT
from modelfleet.registry.entities import (
    GateCheck,
    NewDatasetVersion,
    NewEvaluation,
    NewGateDecision,
    NewPrediction,
    NewTrainingRun,
    NewValidation,
    NewVersion,
    RunRef,
)
from modelfleet.registry.store import applications, predictions, runs, versions
from modelfleet.ui import create_app
from modelfleet.ui.airflow_runs import DagRunInfo
from tests.conftest import create_database, drop_database

WORKFLOW = "digits"
IMAGE = "ab" * 32


@dataclass(frozen=True)
class FakeAccess:
    user: str
    read: set[str] = field(default_factory=set)
    release: set[str] = field(default_factory=set)

    def can_read(self, workflow: str) -> bool:
        return workflow in self.read

    def can_release(self, workflow: str) -> bool:
        return workflow in self.release


USERS = {
    "admin": FakeAccess("admin", {WORKFLOW, "surface_line1"}, {WORKFLOW, "surface_line1"}),
    "viewer": FakeAccess("viewer", {WORKFLOW}),
    "stranger": FakeAccess("stranger"),
}


async def fake_access(request: Request) -> FakeAccess:
    name = request.headers.get("X-Test-User")
    if name is None:
        raise HTTPException(401, "Not authenticated")
    return USERS[name]


def fake_dag_runs(dag_ids: list[str]) -> dict[str, DagRunInfo]:
    when = datetime(2026, 3, 1, tzinfo=UTC)
    return {
        d: DagRunInfo(d, "manual__2026-03", "success", when)
        for d in dag_ids
        if d.endswith(WORKFLOW)
    }


def _version(session: Session, version: str, month: str, accuracy: float) -> None:
    run = RunRef(dag_id=f"retrain__{WORKFLOW}", run_id=f"manual__{month}", code_sha="c0de" * 10)
    dataset = runs.add_dataset_version(
        session,
        NewDatasetVersion(
            workflow=WORKFLOW,
            month=month,
            run=run,
            train_manifest_sha256="a" * 64,
            holdout_manifest_sha256="b" * 64,
            test_manifest_sha256="c" * 64,
            train_dvc_md5="d" * 32 + ".dir",
            n_train=100,
            n_holdout=20,
            n_test=50,
            months=[month],
        ),
    )
    runs.add_validation(
        session,
        NewValidation(
            dataset_version_id=dataset,
            success=True,
            gx_run_id=f"gx-{month}",
            statistics={"evaluated_expectations": 9, "successful_expectations": 9},
            results=[],
            data_docs=f"file://{os.environ['MODELFLEET_HOME']}/data-docs/{WORKFLOW}/index.html",
            run=run,
        ),
    )
    training = runs.add_training_run(
        session,
        NewTrainingRun(
            workflow=WORKFLOW,
            dataset_version_id=dataset,
            architecture="lenet",
            params={"params": {"epochs": 8, "learning_rate": 0.01}},
            artifact_sha256="e" * 64,
            fit_seconds=3.5,
            run=run,
        ),
    )
    for split in ("test", "holdout"):
        runs.add_evaluation(
            session,
            NewEvaluation(
                training_run_id=training,
                role="candidate",
                split=split,
                metrics={"accuracy": accuracy, "macro_f1": accuracy - 0.05, "n": 50},
                model_version_id=None,
                run=run,
            ),
        )
    check = GateCheck("min_accuracy", accuracy, 0.6, True, f"accuracy {accuracy} >= 0.6")
    runs.add_gate_decision(
        session, NewGateDecision(training_run_id=training, passed=True, checks=[check], run=run)
    )
    major, minor, patch = (int(p) for p in version[1:].split("."))
    mv = versions.add_version(
        session,
        NewVersion(
            workflow=WORKFLOW,
            version=version,
            version_int=major * 1_000_000 + minor * 1_000 + patch,
            tag=f"{WORKFLOW}@{version}",
            training_run_id=training,
            artifact_sha256="e" * 64,
            repo_commit="f" * 40,
            run=run,
            artifacts={"confusion": f"models/{WORKFLOW}/confusion.png"},
        ),
    )
    versions.move_alias(
        session,
        workflow=WORKFLOW,
        version=version,
        actor="test",
        reason=f"released {month}",
        run=run,
    )
    if version == "v1.1.0":
        predictions.add_prediction(
            session,
            NewPrediction(
                model_version_id=mv.id,
                image_sha256=IMAGE,
                label="7",
                score=0.93,
                scores={"7": 0.93},
                source="landing/digits/a.png",
                stored_path=None,
            ),
        )


@pytest.fixture(scope="module")
def registry(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A lineage database with digits v1.0.0 and v1.1.0 (production), a prediction,
    and an application `line1-hmi` pinned to production."""
    from modelfleet.registry import db

    home = tmp_path_factory.mktemp("ui-home")
    url = create_database(pg_server, "mf_ui")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELFLEET_DATABASE_URL", url)
        patch.setenv("MODELFLEET_HOME", str(home))
        db.forget_engines()
        db.migrate(url)
        with Session(db.engine()) as session, session.begin():
            _version(session, "v1.0.0", "2026-01", 0.91)
            _version(session, "v1.1.0", "2026-02", 0.94)
            applications.create_application(
                session, "line1-hmi", grants={WORKFLOW: "production"}, actor="test"
            )
        (home / "data-docs" / WORKFLOW).mkdir(parents=True)
        (home / "data-docs" / WORKFLOW / "index.html").write_text("<h1>Data Docs</h1>")
        (home / "secret.txt").write_text("not for the browser")
        yield home
        db.forget_engines()
    drop_database(url)


@pytest.fixture
def client(registry: Path) -> Iterator[TestClient]:
    """Airflow's api-server mounts plugin apps the same way."""
    airflow = FastAPI()
    airflow.mount(MODELS_UI_MOUNT, create_app(access=fake_access, dag_runs=fake_dag_runs))
    with TestClient(airflow, base_url="http://airflow.test") as test:
        yield test


def as_user(name: str) -> dict[str, str]:
    return {"X-Test-User": name}
