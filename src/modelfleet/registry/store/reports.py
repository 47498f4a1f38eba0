"""Read-only summaries for people: the fleet, a workflow's versions, its alias history."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from modelfleet.naming import ALIASES
from modelfleet.registry.store import labels, runs, versions
from modelfleet.registry.store.workflows import workflow_names


def version_summaries(session: Session, workflow: str) -> list[dict[str, Any]]:
    """Each version with its month, candidate metrics, gate decision and alias."""
    production = versions.resolve_alias(session, workflow)
    live = labels.live_accuracy(session, workflow)  # from people's labels (issue 22)
    summaries = []
    for version in versions.list_versions(session, workflow):
        labelled = live.get(version.version)
        training = runs.get_training_run(session, version.training_run_id)
        scores = {
            e.split: e.metrics
            for e in runs.evaluations(session, training.id)
            if e.role == "candidate"
        }
        decision = runs.latest_gate_decision(session, training.id)
        summaries.append(
            {
                "version": version.version,
                "tag": version.tag,
                "created_at": version.created_at,
                "month": runs.get_dataset_version(session, training.dataset_version_id).month,
                "test_accuracy": scores.get("test", {}).get("accuracy"),
                "test_macro_f1": scores.get("test", {}).get("macro_f1"),
                "holdout_accuracy": scores.get("holdout", {}).get("accuracy"),
                "labelled": 0 if labelled is None else labelled.labelled,
                "live_accuracy": None if labelled is None else labelled.accuracy,
                "gate": _gate(decision),
                "production": production is not None and production.id == version.id,
                "run_id": version.run_id,
            }
        )
    return summaries


def _gate(decision: Any) -> str:
    if decision is None:
        return "no decision"
    if decision.override_actor:
        return f"approved by {decision.override_actor}: {decision.override_reason}"
    return "passed" if decision.passed else "rejected"


def alias_events(session: Session, workflow: str) -> list[dict[str, Any]]:
    return [
        {
            "at": event.at,
            "actor": event.actor,
            "from": event.from_version,
            "to": event.to_version,
            "reason": event.reason,
            "run_id": event.run_id,
        }
        for event in versions.alias_history(session, workflow)
    ]


def fleet_summary(session: Session, names: list[str] | None = None) -> list[dict[str, Any]]:
    """Per workflow: production version, since when, its test metrics, the latest gate
    decision and the latest validation. `names` adds workflows with no records yet."""
    rows = []
    for workflow in sorted(set(names or []) | set(workflow_names(session))):
        production = versions.resolve_alias(session, workflow)
        promoted = versions.alias_history(session, workflow)
        trainings = runs.training_runs(session, workflow)
        decision = runs.latest_gate_decision(session, trainings[0].id) if trainings else None
        validation = runs.latest_validation(session, workflow)
        test = {}
        if production is not None:
            test = next(
                (
                    e.metrics
                    for e in runs.evaluations(session, production.training_run_id)
                    if e.role == "candidate" and e.split == "test"
                ),
                {},
            )
        rows.append(
            {
                "workflow": workflow,
                "production": None if production is None else production.version,
                "since": promoted[-1].at if promoted else None,
                "test_accuracy": test.get("accuracy"),
                "test_macro_f1": test.get("macro_f1"),
                "last_gate": None if decision is None else _gate(decision),
                "last_validation": None
                if validation is None
                else f"{validation[0]} {'passed' if validation[1] else 'FAILED'}",
            }
        )
    return rows


def version_details(session: Session, workflow: str) -> list[dict[str, Any]]:
    """Each version with what a registry page shows: candidate metrics on every split,
    the gate decision with every check, the dataset it trained on (and its validation),
    the aliases it holds and the Airflow run that made it. Oldest first."""
    held: dict[str, list[str]] = {}
    for alias in ALIASES:
        current = versions.resolve_alias(session, workflow, alias)
        if current is not None:
            held.setdefault(current.version, []).append(alias)
    details = []
    for version in versions.list_versions(session, workflow):
        training = runs.get_training_run(session, version.training_run_id)
        dataset = runs.get_dataset_version(session, training.dataset_version_id)
        validation = runs.passed_validation(session, dataset.id)
        decision = runs.latest_gate_decision(session, training.id)
        details.append(
            {
                "version": version.version,
                "tag": version.tag,
                "created_at": version.created_at,
                "aliases": held.get(version.version, []),
                "dag_id": version.dag_id,
                "run_id": version.run_id,
                "architecture": training.architecture,
                "artifacts": version.artifacts or {},
                "metrics": {
                    e.split: e.metrics
                    for e in runs.evaluations(session, training.id)
                    if e.role == "candidate"
                },
                "gate": None
                if decision is None
                else {
                    "verdict": _gate(decision),
                    "passed": decision.passed,
                    "override_actor": decision.override_actor,
                    "override_reason": decision.override_reason,
                    "checks": decision.checks,
                },
                "dataset": {
                    "id": dataset.id,
                    "month": dataset.month,
                    "months": dataset.months,
                    "train_dvc_md5": dataset.train_dvc_md5,
                    "n_train": dataset.n_train,
                },
                "data_docs": None if validation is None else validation.data_docs,
            }
        )
    return details


def latest_gate(session: Session, workflow: str) -> dict[str, Any] | None:
    """The workflow's most recent gate decision: verdict and the Airflow run that made it."""
    trainings = runs.training_runs(session, workflow)
    decision = runs.latest_gate_decision(session, trainings[0].id) if trainings else None
    if decision is None:
        return None
    return {
        "verdict": _gate(decision),
        "passed": decision.passed or bool(decision.override_actor),
        "at": decision.created_at,
        "dag_id": decision.dag_id,
        "run_id": decision.run_id,
        "failed": [c["name"] for c in decision.checks if not c["passed"]],
    }
