"""Releases of `digits` after test_retrain_dag: rollback under load, automatic
rollback on a failed smoke test, manual approval of a rejected candidate, and
concurrent releases. Real Airflow runs, Postgres, GTO and the live endpoint.

In the full suite these follow test_retrain_dag (v1.0.0, v1.1.0, a rejected 2026-03)
and each other; each also passes alone: its fixtures make what is missing, and the
version numbers it expects follow from the versions there are."""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy.orm import Session

from modelfleet.cli import main
from modelfleet.endpoint_client import EndpointClient
from modelfleet.naming import Version
from modelfleet.pipeline import release
from modelfleet.pipeline.context import RunContext
from modelfleet.registry.entities import NewTrainingRun, RunRef
from modelfleet.registry.store import runs, versions
from tests.integration.conftest import all_versions, frozen_test_image, release_digits, write_fleet
from tests.integration.test_retrain_dag import (
    endpoint_version,
    gto_versions,
    production,
    run_dag,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
# The gate is not under test here: release whatever trains.
OPEN_GATE = {
    "min_accuracy": 0.0,
    "min_macro_f1": 0.0,
    "min_class_recall": 0.0,
    "max_accuracy_drop": 1.0,
    "max_macro_f1_drop": 1.0,
    "max_class_recall_drop": 1.0,
    "max_holdout_loss": 1.0,
}


def session(platform) -> Session:
    from modelfleet.registry import db

    return Session(db.engine(platform.database_url))


def history(platform) -> list:
    with session(platform) as s:
        return versions.alias_history(s, "digits")


def assert_unbroken(events: list) -> None:
    """Every alias event starts where the one before it ended: none was lost."""
    for before, after in itertools.pairwise(events):
        assert after.from_version == before.to_version, (before, after)


def switch_to(platform, version: str) -> None:
    with EndpointClient(
        platform.endpoint_url, headers=platform.admin_headers, timeout=10
    ) as client:
        client.wait_for_version("digits", version)


@pytest.fixture(scope="module")
def released(platform):
    """digits with v1.0.0 and v1.1.0 released, v1.1.0 in production."""
    release_digits(platform, 2)
    assert production(platform) == "v1.1.0"
    switch_to(platform, "v1.1.0")
    return platform


def worse_fleet(platform) -> str:
    """A fleet file whose candidates the gate rejects (one epoch at a tiny rate)."""
    return str(write_fleet(platform.home / "worse.yaml", epochs=1, learning_rate=0.00001))


@pytest.fixture()
def older_rejected_candidate(released) -> None:
    """A rejected candidate of digits whose workspace is gone: test_retrain_dag's 2026-03
    (its workspace pruned since) in the full suite; made here, as a test run alone has
    none."""
    from modelfleet.settings import get_settings
    from modelfleet.versioning.repo import open_repo
    from modelfleet.versioning.workspace import workspace_path

    with session(released) as s:
        kept = {v.training_run_id for v in versions.list_versions(s, "digits")}
        for training in runs.training_runs(s, "digits"):
            decision = runs.latest_gate_decision(s, training.id)
            if training.id not in kept and decision is not None and not decision.passed:
                return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELFLEET_CONFIG", worse_fleet(released))
        state, tasks = run_dag("2026-03")
    assert state == "success" and tasks["register"] == "skipped", tasks
    with session(released) as s:
        rejected = runs.training_runs(s, "digits")[0].run_id
    open_repo().remove_workspace(workspace_path(get_settings(), "digits", rejected))


def test_rollback_under_load_has_no_failed_requests(released, capsys):
    body = {"instances": [{"b64": base64.b64encode(frozen_test_image()).decode()}]}
    seen: list[tuple[float, int, str | None]] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(
            base_url=released.endpoint_url, headers=released.admin_headers, timeout=30
        ) as client:
            while not stop.is_set():
                try:
                    response = client.post("/v1/models/digits:predict", json=body)
                    version = response.headers.get("X-Model-Version")
                    seen.append((time.monotonic(), response.status_code, version))
                except httpx.HTTPError as exc:
                    seen.append((time.monotonic(), 0, repr(exc)))

    workers = [threading.Thread(target=hammer) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        time.sleep(1.0)
        issued_at = time.monotonic()
        assert main(["rollback", "digits", "--reason", "load test", "--actor", "tester"]) == 0
        moved_at = time.monotonic()  # after the alias commit and the GTO mirror
        deadline = moved_at + 30
        while time.monotonic() < deadline and not any(v == "v1.0.0" for _, _, v in seen):
            time.sleep(0.05)
        time.sleep(1.0)
    finally:
        stop.set()
        for worker in workers:
            worker.join()

    assert "digits production: v1.1.0 -> v1.0.0" in capsys.readouterr().out
    failed = [s for s in seen if s[1] != 200]
    assert not failed, failed[:5]
    first_new = min(t for t, _, v in seen if v == "v1.0.0")
    with capsys.disabled():  # the figure belongs in the test log, not in the capture
        print(
            f"\n{len(seen)} requests, 0 failed; v1.0.0 answered {first_new - issued_at:.3f}s "
            f"after the rollback command started (the command took {moved_at - issued_at:.3f}s)"
        )
    assert {v for _, _, v in seen} == {"v1.1.0", "v1.0.0"}
    assert max(t for t, _, v in seen if v == "v1.1.0") < first_new + 1.0  # no flapping back
    last = history(released)[-1]
    assert (last.from_version, last.to_version, last.actor) == ("v1.1.0", "v1.0.0", "cli:tester")
    assert last.reason == "rollback: load test"
    assert gto_versions(released)["digits"]["stage"]["production"] == "v1.0.0"

    assert main(["history", "digits"]) == 0
    assert "production alias history" in capsys.readouterr().out
    assert main(["history", "digits", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[-1]["reason"] == "rollback: load test"
    assert main(["rollback", "digits", "--to", "v1.1.0", "--reason", "restore"]) == 0
    switch_to(released, "v1.1.0")
    assert main(["rollback", "digits", "--to", "v1.1.0", "--reason", "again"]) == 1
    assert "already production" in capsys.readouterr().err


def test_failed_smoke_test_rolls_back_automatically(released, monkeypatch):
    impossible = write_fleet(
        released.home / "slow-smoke.yaml", gate=OPEN_GATE, smoke={"max_p95_latency_s": 1e-6}
    )
    monkeypatch.setenv("MODELFLEET_CONFIG", str(impossible))
    state, tasks = run_dag("2026-05")

    assert state == "failed"
    assert tasks["register"] == tasks["deploy"] == "success" and tasks["smoke"] == "failed"
    assert production(released) == "v1.1.0"
    release, rollback = history(released)[-2:]
    assert (release.from_version, release.to_version) == ("v1.1.0", "v1.2.0")
    assert (rollback.from_version, rollback.to_version) == ("v1.2.0", "v1.1.0")
    assert rollback.reason.startswith("automatic rollback: smoke test of v1.2.0 failed: p95")
    assert rollback.run_id == release.run_id
    switch_to(released, "v1.1.0")
    assert endpoint_version(released) == "v1.1.0"
    assert gto_versions(released)["digits"]["stage"]["production"] == "v1.1.0"
    # a plain rollback now goes to an older version, never back to the failed v1.2.0
    from modelfleet.releases import rollback_target

    with session(released) as s:
        assert rollback_target(s, "digits", None) == "v1.0.0"


@pytest.mark.usefixtures("older_rejected_candidate")
def test_rejected_candidate_is_released_only_by_an_approval(released, monkeypatch, capsys):
    # v1.2.0 (the failed smoke test's) before it in the module, v1.1.0 alone
    latest = all_versions(released)[-1]
    approved = str(Version.parse(latest).bump_minor())
    monkeypatch.setenv("MODELFLEET_CONFIG", worse_fleet(released))
    state, tasks = run_dag("2026-06")
    assert state == "success" and tasks["register"] == "skipped", tasks
    with pytest.raises(SystemExit):  # --reason is required
        main(["approve", "digits", "--actor", "tester"])
    capsys.readouterr()

    assert main(["approve", "digits", "--reason", "line stopped; accept", "--actor", "tester"]) == 0

    assert f"approved digits@{approved} (now in production)" in capsys.readouterr().out
    assert production(released) == approved
    with session(released) as s:
        version = versions.get_version(s, "digits", approved)
        decision = runs.latest_gate_decision(s, version.training_run_id)
        assert decision.passed and decision.override_actor == "cli:tester"
        assert decision.override_reason == "line stopped; accept"
    last = history(released)[-1]
    assert last.actor == "cli:tester" and "approved by cli:tester" in last.reason
    assert main(["versions", "digits"]) == 0
    assert "model versions" in capsys.readouterr().out
    assert main(["versions", "digits", "--json"]) == 0
    rows = {row["version"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows[approved]["gate"] == "approved by cli:tester: line stopped; accept"
    assert rows[approved]["production"] and rows[approved]["month"] == "2026-06"
    assert rows[latest]["gate"] == "passed"
    # the next rejected candidate is 2026-03's, whose workspace is gone
    assert main(["approve", "digits", "--reason", "older one"]) == 1
    assert "the workspace of run" in capsys.readouterr().err


def test_concurrent_releases_get_distinct_versions_and_lose_no_event(released):
    with session(released) as s, s.begin():
        latest = runs.training_runs(s, "digits")[0]
        workspace_run = latest.run_id
        # v1.3.0 of 2026-06 (the approval's) after the module's other tests, v1.1.0 alone
        newest = versions.version_of_training_run(s, latest.id)
        assert newest is not None and newest.version == all_versions(released)[-1]
        month = runs.get_dataset_version(s, latest.dataset_version_id).month
        fields = {
            "workflow": "digits",
            "dataset_version_id": latest.dataset_version_id,
            "architecture": latest.architecture,
            "params": latest.params,
            "artifact_sha256": latest.artifact_sha256,
            "fit_seconds": latest.fit_seconds,
            "parent_version_id": None,
        }
        ids = [
            runs.add_training_run(
                s, NewTrainingRun(**fields, run=RunRef("retrain__digits", f"race-{i}"))
            )
            for i in (1, 2)
        ]
    before = len(history(released))
    barrier = threading.Barrier(2)

    def register_and_deploy(training_run_id: int, index: int) -> dict:
        # both finish in the workspace of the run that trained the weights
        ctx = RunContext("digits", month, RunRef("retrain__digits", workspace_run))
        barrier.wait()
        registered = release.register(ctx, training_run_id)
        return release.deploy(ctx, registered["version"])

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(register_and_deploy, ids, (1, 2)))

    # the same month again: patch releases
    base = Version.parse(newest.version)
    first, second = (str(Version(base.major, base.minor, base.patch + i)) for i in (1, 2))
    assert sorted(r["version"] for r in results) == [first, second]
    assert production(released) == second  # the newer release wins either way
    events = history(released)
    assert len(events) - before == sum(r["moved"] for r in results)
    assert_unbroken(events)

    from modelfleet import releases
    from modelfleet.settings import get_settings

    # a retry of a recorded registration redoes nothing; no staged export is left behind
    ctx = RunContext("digits", month, RunRef("retrain__digits", workspace_run))
    assert release.register(ctx, ids[0])["version"] == results[0]["version"]
    assert not list((get_settings().serving_root / "digits").glob(".staged-*"))

    # raw alias moves racing each other queue on the alias row: all kept, in a chain

    targets = ["v1.0.0", "v1.1.0", first, "v1.1.0", "v1.0.0", "v1.1.0"]
    with ThreadPoolExecutor(len(targets)) as pool:
        list(
            pool.map(
                lambda v: releases.set_production(
                    get_settings(), "digits", v, actor="test", reason="race"
                ),
                targets,
            )
        )
    events = history(released)
    assert [e.reason for e in events[-len(targets) :]] == ["race"] * len(targets)
    assert_unbroken(events)
    releases.set_production(get_settings(), "digits", "v1.1.0", actor="test", reason="restore")
    switch_to(released, "v1.1.0")
