"""The lineage store against real Postgres: alias moves, history, the lineage chain."""

from __future__ import annotations

import pytest

from modelfleet.errors import NotFound
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
from modelfleet.registry.store import lineage, predictions, runs, versions

pytestmark = pytest.mark.integration
RUN = RunRef(dag_id="retrain__w", run_id="manual__1", code_sha="abc123")


def _version(session, version: str, month: str) -> int:
    dataset = runs.add_dataset_version(
        session,
        NewDatasetVersion(
            workflow="w",
            month=month,
            run=RUN,
            train_manifest_sha256="a" * 64,
            holdout_manifest_sha256="b" * 64,
            test_manifest_sha256="c" * 64,
            train_dvc_md5="d.dir",
            n_train=10,
            n_holdout=2,
            n_test=5,
            months=[month],
        ),
    )
    runs.add_validation(
        session,
        NewValidation(
            dataset_version_id=dataset,
            success=True,
            gx_run_id="gx1",
            statistics={"evaluated_expectations": 3},
            results=[],
            data_docs=None,
            run=RUN,
        ),
    )
    training = runs.add_training_run(
        session,
        NewTrainingRun(
            workflow="w",
            dataset_version_id=dataset,
            architecture="lenet",
            params={"params": {"epochs": 1}},
            artifact_sha256="e" * 64,
            fit_seconds=1.0,
            run=RUN,
        ),
    )
    runs.add_evaluation(
        session,
        NewEvaluation(
            training_run_id=training,
            role="candidate",
            split="test",
            metrics={"accuracy": 0.9, "n": 5},
            model_version_id=None,
            run=RUN,
        ),
    )
    runs.add_gate_decision(
        session,
        NewGateDecision(
            training_run_id=training,
            passed=True,
            checks=[GateCheck("min_accuracy", 0.9, 0.8, True, "ok")],
            run=RUN,
        ),
    )
    return versions.add_version(
        session,
        NewVersion(
            workflow="w",
            version=version,
            version_int=int(version[1]) * 10**6,
            tag=f"w@{version}",
            training_run_id=training,
            artifact_sha256="e" * 64,
            repo_commit="f" * 40,
            run=RUN,
        ),
    ).id


def test_alias_moves_are_appended_to_history(db_session):
    _version(db_session, "v1.0.0", "2026-01")
    _version(db_session, "v2.0.0", "2026-02")
    assert versions.resolve_alias(db_session, "w") is None
    assert (
        versions.move_alias(db_session, workflow="w", version="v1.0.0", actor="a", reason="first")
        is None
    )
    previous = versions.move_alias(
        db_session, workflow="w", version="v2.0.0", actor="b", reason="better"
    )
    assert previous is not None and previous.version == "v1.0.0"
    versions.move_alias(db_session, workflow="w", version="v1.0.0", actor="c", reason="rollback")
    assert versions.resolve_alias(db_session, "w").version == "v1.0.0"
    history = versions.alias_history(db_session, "w")
    assert [(e.from_version, e.to_version, e.actor) for e in history] == [
        (None, "v1.0.0", "a"),
        ("v1.0.0", "v2.0.0", "b"),
        ("v2.0.0", "v1.0.0", "c"),
    ]
    with pytest.raises(ValueError, match="needs a reason"):
        versions.move_alias(db_session, workflow="w", version="v2.0.0", actor="d", reason=" ")
    with pytest.raises(NotFound, match=r"no version v9\.9\.9"):
        versions.move_alias(db_session, workflow="w", version="v9.9.9", actor="d", reason="x")


def test_prediction_lineage_walks_to_the_validation(db_session):
    version_id = _version(db_session, "v1.0.0", "2026-01")
    predictions.add_prediction(
        db_session,
        NewPrediction(
            model_version_id=version_id,
            image_sha256="9" * 64,
            label="3",
            score=0.97,
            scores={"3": 0.97},
            source="cam.png",
            stored_path="/lake/x.png",
        ),
    )
    chain = lineage.prediction_lineage(db_session, "9" * 64)
    assert chain["prediction"]["label"] == "3"
    assert chain["model_version"]["tag"] == "w@v1.0.0"
    assert chain["training_run"]["run_id"] == "manual__1"
    assert chain["training_run"]["code_sha"] == "abc123"
    assert chain["dataset_version"]["month"] == "2026-01"
    assert chain["validation"]["gx_run_id"] == "gx1"
    assert chain["gate_decision"]["passed"] is True
    with pytest.raises(NotFound):
        lineage.prediction_lineage(db_session, "0" * 64)


def test_fleet_summary_shows_production_metrics_gate_and_validation(db_session):
    from modelfleet.registry.store.reports import fleet_summary

    _version(db_session, "v1.0.0", "2026-01")
    versions.move_alias(db_session, workflow="w", version="v1.0.0", actor="a", reason="first")
    rows = {r["workflow"]: r for r in fleet_summary(db_session, ["w", "not_yet"])}
    assert rows["w"]["production"] == "v1.0.0" and rows["w"]["since"] is not None
    assert rows["w"]["test_accuracy"] == 0.9
    assert rows["w"]["last_gate"] == "passed"
    assert rows["w"]["last_validation"] == "2026-01 passed"
    assert rows["not_yet"]["production"] is None and rows["not_yet"]["last_gate"] is None


def test_applications_keys_are_hashed_verified_and_revocable(db_session):
    from modelfleet.errors import InvalidGrant, RegistryError
    from modelfleet.registry.store import applications
    from modelfleet.registry.tables import ApplicationRow

    _version(db_session, "v1.0.0", "2026-01")
    key = applications.create_application(
        db_session, "hmi", grants={"w": "v1.0.0"}, actor="test", workflows={"w"}
    )
    stored = db_session.query(ApplicationRow).filter_by(name="hmi").one()
    assert key not in stored.key_hash and stored.key_hash.startswith("$argon2")
    app = applications.authenticate(db_session, key)
    assert app is not None and app.grants == {"w": "v1.0.0"} and not app.admin
    assert applications.authenticate(db_session, key[:-1] + "x") is None
    assert applications.authenticate(db_session, "not-a-key") is None
    assert applications.pinned_versions(db_session) == {"w": {"v1.0.0"}}

    with pytest.raises(InvalidGrant, match=r"v9\.0\.0"):
        applications.set_grant(
            db_session, "hmi", "w", "v9.0.0", actor="t", reason="r", workflows={"w"}
        )
    with pytest.raises(InvalidGrant, match="neither an alias"):
        applications.set_grant(
            db_session, "hmi", "w", "latest", actor="t", reason="r", workflows={"w"}
        )
    with pytest.raises(InvalidGrant, match="workflow 'x' is not declared; declared: w"):
        applications.set_grant(
            db_session, "hmi", "x", "production", actor="t", reason="r", workflows={"w"}
        )
    with pytest.raises(RegistryError, match="already exists"):
        applications.create_application(db_session, "hmi", grants={}, actor="test")

    applications.set_grant(
        db_session, "hmi", "w", "candidate", actor="t", reason="beta", workflows={"w"}
    )
    assert applications.pinned_versions(db_session) == {}
    new_key = applications.issue_key(db_session, "hmi")
    assert applications.authenticate(db_session, key) is None
    assert applications.authenticate(db_session, new_key).grants == {"w": "candidate"}
    applications.revoke(db_session, "hmi")
    assert applications.authenticate(db_session, new_key) is None
    assert applications.get_application(db_session, "hmi").revoked_at is not None


def test_declared_applications_follow_the_file(db_session):
    from modelfleet.registry.store import applications

    _version(db_session, "v1.0.0", "2026-01")
    created = applications.sync_declared(
        db_session, {"line": ({"w": "production"}, False)}, actor="workflows.yaml", workflows={"w"}
    )
    assert created == ["line"]
    assert not applications.get_application(db_session, "line").has_key
    applications.sync_declared(
        db_session, {"line": ({"w": "v1.0.0"}, True)}, actor="workflows.yaml", workflows={"w"}
    )
    app = applications.get_application(db_session, "line")
    assert app.grants == {"w": "v1.0.0"} and app.admin and app.declared
    applications.sync_declared(db_session, {"line": ({}, False)}, actor="workflows.yaml")
    assert applications.get_application(db_session, "line").grants == {}


def test_a_short_use_engine_bounds_its_connect_and_its_statements(pg_server):
    """What a DAG parse and an OpenLineage event read through: neither may wait long."""
    import sqlalchemy as sa

    from modelfleet.registry.db import short_use_engine

    engine = short_use_engine(pg_server, 3)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SHOW statement_timeout")).scalar() == "3s"
            with pytest.raises(sa.exc.OperationalError, match="statement timeout"):
                conn.execute(sa.text("SELECT pg_sleep(5)"))
    finally:
        engine.dispose()
    assert isinstance(engine.pool, sa.pool.NullPool)
