"""The approval step's wiring, body and responder check (orchestration/approval.py).

Airflow is imported inside the tests, never at collection (see test_dag_factory)."""

from __future__ import annotations

import pytest

from modelfleet.config import Workflow, load_fleet
from modelfleet.pipeline.approve import Candidate
from modelfleet.settings import CHECKOUT

# retrain__<wf> as it has always been: each task and its direct upstream tasks
UNATTENDED = {
    "snapshot": set(),
    "validate": {"snapshot"},
    "train": {"validate"},
    "evaluate": {"train"},
    "gate": {"train", "evaluate"},
    "register": {"train", "gate"},
    "deploy": {"register"},
    "smoke": {"deploy"},
}


def _workflow(approval: str) -> Workflow:
    digits = load_fleet(CHECKOUT / "workflows.yaml").get("digits")
    release = digits.release.model_copy(update={"approval": approval})
    return digits.model_copy(update={"release": release})


def _shape(approval: str) -> tuple[dict[str, set[str]], dict[str, str]]:
    from modelfleet.orchestration.dag_factory import build_retrain_dag

    dag = build_retrain_dag(_workflow(approval))
    return (
        {t.task_id: set(t.upstream_task_ids) for t in dag.tasks},
        {t.task_id: getattr(t.trigger_rule, "value", t.trigger_rule) for t in dag.tasks},
    )


def test_without_approval_the_dag_is_unchanged():
    edges, rules = _shape("none")
    assert edges == UNATTENDED
    assert set(rules.values()) == {"all_success"}


@pytest.mark.parametrize("approval", ["required", "on_reject"])
def test_approval_sits_between_the_gate_and_register(approval):
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    from modelfleet.orchestration.dag_factory import build_retrain_dag

    edges, rules = _shape(approval)
    assert edges["approve"] == {"gate", "train"}
    assert edges["register"] == {"approve", "train"}
    assert rules["register"] == "none_failed_min_one_success"
    assert edges["deploy"] == {"register"} and edges["smoke"] == {"deploy"}
    step = build_retrain_dag(_workflow(approval)).get_task("approve")
    assert isinstance(step, ApprovalOperator)
    assert step.defaults == ["Reject"]  # what the scheduler answers at the timeout
    assert step.response_timeout.total_seconds() == 24 * 3600
    assert set(step.serialized_params) == {"reason"}  # not the DAG's month
    assert step.serialized_params["reason"]["description"].startswith("Required")


def test_the_body_shows_every_check_with_value_and_threshold():
    from datetime import timedelta

    from modelfleet.orchestration.approval import gate_report

    checks = [
        {"name": "min_accuracy", "observed": 0.9312, "threshold": 0.8, "passed": True,
         "detail": "test accuracy 0.9312 >= required 0.8"},
        {"name": "max_holdout_loss", "observed": 0.07, "threshold": 0.05, "passed": False,
         "detail": "holdout loss 0.07 > 0.05"},
    ]  # fmt: skip
    body = gate_report(Candidate("digits", 7, "2026-02", False, checks), timedelta(hours=24))
    assert "Training run 7 of **digits**, trained on 2026-02. The gate **rejected** it." in body
    assert "| min_accuracy | 0.9312 | 0.8 | pass | test accuracy 0.9312 >= required 0.8 |" in body
    assert "| max_holdout_loss | 0.07 | 0.05 | **FAIL** |" in body
    assert "allowed to run `retrain__digits`" in body and "within 1 day, 0:00:00" in body


@pytest.mark.parametrize(
    ("responder", "allowed"),
    [
        ({"id": "alice", "name": "alice"}, True),  # op
        ({"id": "uma", "name": "uma"}, True),  # user: may trigger DAGs
        ({"id": "vic", "name": "vic"}, False),  # viewer
        ({"id": "mallory", "name": "mallory"}, False),  # not a user at all
        ({}, False),  # nobody (a timeout)
    ],
)
def test_only_users_who_may_trigger_the_dag_may_release(monkeypatch, responder, allowed):
    from modelfleet.orchestration.approval import responder_may_release as may_release

    monkeypatch.setenv("AIRFLOW__CORE__AUTH_MANAGER", "airflow.api_fastapi.auth.managers."
                       "simple.simple_auth_manager.SimpleAuthManager")  # fmt: skip
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "alice:op,uma:user,vic:viewer")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
    assert may_release(responder, "digits") is allowed
