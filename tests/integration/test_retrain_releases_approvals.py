"""Approvals in Airflow (`release.approval`): real `retrain__<wf>` runs with dag.test(),
whose human-in-the-loop step a thread answers as the Airflow UI would, through the
core API's own response handler; or, for the timeout, through the scheduler's own
timeout sweep (dag.test() runs no scheduler, and waits for outside input).

The workflow is one no other test releases (its versions are this module's alone), with
one epoch; each test also passes alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import yaml
from sqlalchemy.orm import Session

from modelfleet.naming import CANDIDATE, retrain_dag_id
from modelfleet.registry.store import runs, versions
from tests.integration.conftest import write_fleet
from tests.integration.test_retrain_dag import run_dag
from tests.integration.test_retrain_releases import OPEN_GATE

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKFLOW = "label_pharma"
DAG_ID = retrain_dag_id(WORKFLOW)
USERS = "admin:admin,alice:op,vic:viewer"


@pytest.fixture()
def approvals(platform, monkeypatch):
    """The platform, with Airflow users who may (alice) and may not (vic) release."""
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", USERS)
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
    return platform


def use_fleet(platform, monkeypatch, name: str, release: dict, gate: dict) -> None:
    """A fleet file where WORKFLOW asks for approval as `release` says."""
    path = write_fleet(platform.home / f"{name}.yaml", gate=gate, epochs=1)
    doc = yaml.safe_load(path.read_text())
    doc["workflows"][WORKFLOW]["release"] = release
    path.write_text(yaml.safe_dump(doc))
    monkeypatch.setenv("MODELFLEET_CONFIG", str(path))


def parked_approval(timeout_s: float = 900) -> tuple[str, str]:
    """(run_id, ti id) of the `approve` step once it waits for a person."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with create_session() as session:
            ti = session.scalars(
                select(TaskInstance).where(
                    TaskInstance.dag_id == DAG_ID,
                    TaskInstance.task_id == "approve",
                    TaskInstance.state == TaskInstanceState.AWAITING_INPUT,
                )
            ).first()
            if ti is not None:
                return ti.run_id, str(ti.id)
        time.sleep(0.5)
    raise TimeoutError("the approve step never waited for input")


def respond(option: str, reason: str, user: str, role: str) -> None:
    """Answer the parked step as `user` would in the UI: Airflow's response handler."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
    from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
    from airflow.utils.session import create_session

    run_id, _ = parked_approval()
    with create_session() as session:
        update_hitl_detail(
            dag_id=DAG_ID,
            dag_run_id=run_id,
            task_id="approve",
            update_hitl_detail_payload=UpdateHITLDetailPayload(
                chosen_options=[option], params_input={"reason": reason}
            ),
            user=SimpleAuthManagerUser(username=user, role=role),
            session=session,
        )


def sweep_timeouts() -> None:
    """What the scheduler does every few seconds: answer the steps past their timeout."""
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    _, ti_id = parked_approval()
    runner = SchedulerJobRunner(job=Job(), executors=[])
    while True:
        runner.check_awaiting_input_timeouts()
        with create_session() as session:
            if session.get(TaskInstance, ti_id).state != "awaiting_input":
                return
        time.sleep(0.5)


@contextmanager
def answering(answer: Callable[[], None]) -> Iterator[None]:
    """Run `answer` in a thread beside the DAG run; re-raise what it raised."""
    failures: list[BaseException] = []
    # Import in this thread first: the run imports Airflow's models lazily too, and two
    # threads importing the same modules at once can deadlock on their import locks.
    import airflow.api_fastapi.auth.managers.simple.user
    import airflow.api_fastapi.core_api.routes.public.hitl
    import airflow.jobs.scheduler_job_runner  # noqa: F401
    from airflow.models import import_all_models
    from sqlalchemy.orm import configure_mappers

    import_all_models()
    configure_mappers()  # which would import the models again, lazily, at a first query

    def target() -> None:
        try:
            answer()
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    yield
    thread.join(60)
    if failures:
        raise failures[0]


def production(platform) -> str | None:
    from modelfleet.registry import db

    with Session(db.engine(platform.database_url)) as s:
        found = versions.resolve_alias(s, WORKFLOW)
    return None if found is None else found.version


def latest_decision(platform):
    from modelfleet.registry import db

    with Session(db.engine(platform.database_url)) as s:
        return runs.latest_gate_decision(s, runs.training_runs(s, WORKFLOW)[0].id)


def history(platform, alias: str = "production") -> list:
    from modelfleet.registry import db

    with Session(db.engine(platform.database_url)) as s:
        return versions.alias_history(s, WORKFLOW, alias)


def test_approved_in_airflow_goes_to_production_in_the_responders_name(approvals, monkeypatch):
    use_fleet(approvals, monkeypatch, "approval-required", {"approval": "required"}, OPEN_GATE)
    reason = "scratches checked by hand on 20 images"
    with answering(lambda: respond("Approve", reason, "alice", "op")):
        state, tasks = run_dag("2026-01", dag_id=DAG_ID)

    assert state == "success", tasks
    assert tasks["gate"] == tasks["approve"] == "success"
    assert tasks["register"] == tasks["deploy"] == tasks["smoke"] == "success"
    released = history(approvals)[-1]
    assert production(approvals) == released.to_version
    assert released.actor == "airflow:alice"
    assert released.reason == f"approved by airflow:alice: {reason}"
    registered = history(approvals, CANDIDATE)[-1]
    assert registered.actor == "airflow:alice" and registered.to_version == released.to_version
    decision = latest_decision(approvals)
    assert decision.passed and decision.override_actor == "airflow:alice"
    assert decision.override_reason == reason


def test_a_rejected_candidate_waits_for_a_person_and_a_reject_is_recorded(approvals, monkeypatch):
    # on_reject: the gate (no model reaches accuracy 1.0) rejects, the person confirms
    use_fleet(approvals, monkeypatch, "approval-on-reject", {"approval": "on_reject"},
              {**OPEN_GATE, "min_accuracy": 1.0})  # fmt: skip
    before = production(approvals), len(history(approvals))
    with answering(
        lambda: respond("Reject", "the line was down; retrain next month", "alice", "op")
    ):
        state, tasks = run_dag("2026-02", dag_id=DAG_ID)

    assert state == "success", tasks
    assert tasks["gate"] == tasks["approve"] == "success"
    assert tasks["register"] == tasks["deploy"] == tasks["smoke"] == "skipped"
    assert (production(approvals), len(history(approvals))) == before
    decision = latest_decision(approvals)
    assert not decision.passed and decision.override_actor is None
    failed = {c["name"]: c["detail"] for c in decision.checks if not c["passed"]}
    assert "min_accuracy" in failed  # the gate's own reasons stay on the record
    assert failed["manual_review"] == (
        "rejected by airflow:alice: the line was down; retrain next month"
    )


def test_no_answer_before_the_timeout_rejects(approvals, monkeypatch):
    use_fleet(approvals, monkeypatch, "approval-timeout",
              {"approval": "required", "approval_timeout": "1s"}, OPEN_GATE)  # fmt: skip
    before = production(approvals), len(history(approvals))
    with answering(sweep_timeouts):
        state, tasks = run_dag("2026-03", dag_id=DAG_ID)

    assert state == "success", tasks
    assert tasks["approve"] == "success"
    assert tasks["register"] == tasks["deploy"] == tasks["smoke"] == "skipped"
    assert (production(approvals), len(history(approvals))) == before
    decision = latest_decision(approvals)
    assert not decision.passed
    review = next(c for c in decision.checks if c["name"] == "manual_review")
    assert review["detail"] == "rejected: no answer within 0:00:01 (release.on_timeout: reject)"


def test_a_user_who_may_not_release_cannot_approve(approvals, monkeypatch):
    """Airflow's response API lets anyone with its HITL permission answer; the step
    checks the responder against the release rule before it acts."""
    use_fleet(approvals, monkeypatch, "approval-viewer", {"approval": "required"}, OPEN_GATE)
    before = production(approvals), len(history(approvals))
    with answering(lambda: respond("Approve", "looks fine to me", "vic", "viewer")):
        state, tasks = run_dag("2026-04", dag_id=DAG_ID)

    assert state == "failed", tasks
    assert tasks["approve"] == "failed"
    assert tasks["register"] == tasks["deploy"] == tasks["smoke"] == "upstream_failed"
    assert (production(approvals), len(history(approvals))) == before
    decision = latest_decision(approvals)
    assert decision.passed and decision.override_actor is None  # the gate's, unchanged
