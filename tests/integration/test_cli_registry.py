"""`modelfleet` over a real registry (Postgres): an unknown workflow or version exits 2
listing what exists, and the `--json` outputs keep their keys.

The registry holds two releases of digits (v1.1.0 in production), as the Models UI's
tests make them, and a workflow the fleet no longer declares (its records stay
queryable)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from modelfleet.cli import main
from modelfleet.config import load_fleet
from modelfleet.registry.store.workflows import ensure_workflow
from modelfleet.settings import DATABASE_URL_ENV, HOME_ENV
from tests.conftest import create_database, drop_database
from tests.helpers.cli import usage_error
from tests.unit.ui.conftest import _version as release_digits  # the Models UI's records

pytestmark = pytest.mark.integration
REMOVED = "old_line"  # in the registry, no longer in the fleet


@pytest.fixture(scope="module")
def registry(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from modelfleet.registry import db

    url = create_database(pg_server, "mf_cli")
    db.migrate(url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DATABASE_URL_ENV, url)
        patch.setenv(HOME_ENV, str(tmp_path_factory.mktemp("home")))
        with Session(db.engine(url)) as session, session.begin():
            release_digits(session, "v1.0.0", "2026-01", 0.9)  # each one to production
            release_digits(session, "v1.1.0", "2026-02", 0.93)
            ensure_workflow(session, REMOVED)
        yield url
    drop_database(url)


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
    err = usage_error(argv, capsys)
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
    err = usage_error(argv, capsys)
    assert "workflow 'digits' has no version v9.9.9; its versions: v1.0.0, v1.1.0" in err


def test_a_removed_workflows_records_stay_queryable(registry, capsys):
    assert main(["versions", REMOVED, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


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
    assert digits["production"] == "v1.1.0" and digits["test_accuracy"] == 0.93

    listed = _json(["versions", "digits"], capsys)
    assert [(row["version"], row["production"]) for row in listed] == [
        ("v1.0.0", False),
        ("v1.1.0", True),
    ]
    assert set(listed[0]) >= {"version", "tag", "month", "test_accuracy", "gate", "production"}

    history = _json(["history", "digits"], capsys)
    assert [(row["from"], row["to"], row["actor"]) for row in history] == [
        (None, "v1.0.0", "test"),
        ("v1.0.0", "v1.1.0", "test"),
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
        *("name", "admin", "grants", "label", "has_key", "declared", "revoked_at"),
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
