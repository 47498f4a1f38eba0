"""`modelfleet` over a real registry (Postgres): an unknown workflow or version exits 2
listing what exists, and the `--json` outputs keep their keys.

The registry holds two versions of digits (v1.0.0 in production) and one of a workflow
the fleet no longer declares (its records stay queryable)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from modelfleet.cli import main
from modelfleet.config import load_fleet
from modelfleet.naming import Version
from modelfleet.registry.entities import (
    GateCheck,
    NewDatasetVersion,
    NewEvaluation,
    NewGateDecision,
    NewTrainingRun,
    NewValidation,
    NewVersion,
    RunRef,
)
from modelfleet.registry.store import runs, versions
from modelfleet.settings import DATABASE_URL_ENV, HOME_ENV
from tests.conftest import create_database, drop_database

pytestmark = pytest.mark.integration
RUN = RunRef(dag_id="retrain__digits", run_id="manual__1", code_sha="abc123")
REMOVED = "old_line"  # in the registry, no longer in the fleet


def _release(session: Session, workflow: str, version: str, month: str) -> None:
    """The records one released version leaves: dataset, validation, run, scores, gate."""
    dataset = runs.add_dataset_version(
        session,
        NewDatasetVersion(
            workflow=workflow,
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
            statistics={"evaluated_expectations": 3, "successful_expectations": 3},
            results=[],
            data_docs=None,
            run=RUN,
        ),
    )
    training = runs.add_training_run(
        session,
        NewTrainingRun(
            workflow=workflow,
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
            metrics={"accuracy": 0.9, "macro_f1": 0.88},
            model_version_id=None,
            run=RUN,
        ),
    )
    runs.add_gate_decision(
        session,
        NewGateDecision(
            training_run_id=training,
            passed=True,
            checks=[GateCheck("min_accuracy", 0.9, 0.8, True, "accuracy 0.9 >= 0.8")],
            run=RUN,
        ),
    )
    versions.add_version(
        session,
        NewVersion(
            workflow=workflow,
            version=version,
            version_int=Version.parse(version).as_int(),
            tag=f"{workflow}@{version}",
            training_run_id=training,
            artifact_sha256="e" * 64,
            repo_commit="f" * 40,
            run=RUN,
        ),
    )


@pytest.fixture(scope="module")
def registry(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from modelfleet.registry import db

    url = create_database(pg_server, "mf_cli")
    db.migrate(url)
    engine = db.engine(url)
    with Session(engine) as session, session.begin():
        _release(session, "digits", "v1.0.0", "2026-01")
        _release(session, "digits", "v1.1.0", "2026-02")
        _release(session, REMOVED, "v1.0.0", "2026-01")
        versions.move_alias(
            session, workflow="digits", version="v1.0.0", actor="cli:test", reason="first"
        )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DATABASE_URL_ENV, url)
        patch.setenv(HOME_ENV, str(tmp_path_factory.mktemp("home")))
        yield url
    drop_database(url)


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: modelfleet {argv[0]}")
    return err


@pytest.mark.parametrize(
    "argv",
    [
        ["versions", "digitz"],
        ["history", "digitz"],
        ["lineage", "digitz@v1.0.0"],
        ["rollback", "digitz", "--reason", "r"],
        ["reproduce", "digitz@v1.0.0"],
    ],
    ids=lambda argv: argv[0],
)
def test_an_unknown_workflow_exits_2_naming_the_fleet_and_removed_ones(registry, argv, capsys):
    err = _usage_error(argv, capsys)
    fleet = ", ".join(load_fleet().workflows)
    assert (
        f"unknown workflow 'digitz'; the fleet has {fleet}; removed, with records: {REMOVED}" in err
    )
    assert "no version" not in err  # the workflow is what is wrong, not the version


@pytest.mark.parametrize(
    "argv",
    [
        ["lineage", "digits@v9.9.9"],
        ["rollback", "digits", "--to", "v9.9.9", "--reason", "r"],
        ["reproduce", "digits@v9.9.9"],
        ["apps", "grant", "shop", "digits=v9.9.9", "--reason", "r"],
    ],
    ids=lambda argv: argv[0],
)
def test_an_unknown_version_exits_2_listing_the_versions(registry, argv, capsys):
    err = _usage_error(argv, capsys)
    assert "workflow 'digits' has no version v9.9.9; its versions: v1.0.0, v1.1.0" in err


def test_a_removed_workflows_records_stay_queryable(registry, capsys):
    assert main(["versions", REMOVED, "--json"]) == 0
    assert [row["version"] for row in json.loads(capsys.readouterr().out)] == ["v1.0.0"]


def _json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> object:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_outputs_keep_their_keys(registry, capsys):
    fleet = _json(["fleet"], capsys)
    assert isinstance(fleet, list)
    digits = next(row for row in fleet if row["workflow"] == "digits")
    assert set(digits) >= {
        *("workflow", "production", "since", "test_accuracy", "test_macro_f1"),
        *("last_gate", "last_validation"),
    }
    assert digits["production"] == "v1.0.0" and digits["test_macro_f1"] == 0.88

    listed = _json(["versions", "digits"], capsys)
    assert [(row["version"], row["production"]) for row in listed] == [
        ("v1.0.0", True),
        ("v1.1.0", False),
    ]
    assert set(listed[0]) >= {"version", "tag", "month", "test_accuracy", "gate", "production"}

    history = _json(["history", "digits"], capsys)
    assert [(row["from"], row["to"], row["actor"]) for row in history] == [
        (None, "v1.0.0", "cli:test")
    ]
    assert set(history[0]) == {"at", "actor", "from", "to", "reason", "run_id"}

    chain = _json(["lineage", "digits@v1.0.0"], capsys)
    assert set(chain) >= {"model_version", "training_run", "dataset_version", "validation"}
    assert chain["model_version"]["tag"] == "digits@v1.0.0"

    assert main(["apps", "create", "shop", "--grant", "digits=v1.1.0"]) == 0
    capsys.readouterr()
    apps = {app["name"]: app for app in _json(["apps", "list"], capsys)}
    assert apps["shop"]["grants"] == {"digits": "v1.1.0"} and apps["shop"]["has_key"]
    assert set(apps["shop"]) == {
        *("name", "admin", "grants", "has_key", "declared", "revoked_at"),
        *("created_at", "created_by"),
    }

    workflows = _json(["workflow", "list"], capsys)
    assert set(workflows) >= {"workflows", "archived", "registry"}
    row = next(w for w in workflows["workflows"] if w["name"] == "digits")
    assert set(row) == {
        *("name", "declared_in", "source", "architecture", "input_shape", "schedule"),
        "production",  # null here: this home never ran `modelfleet up`
    }


def test_fleet_piped_shows_every_name_whole(registry, capsys):
    assert main(["fleet"]) == 0
    out = capsys.readouterr().out
    assert "…" not in out
    for name in load_fleet().workflows:
        assert f" {name} " in out
