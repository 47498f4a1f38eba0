"""Read-only summaries for people: the fleet, a workflow's versions, its alias history."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from modelfleet.registry.store import runs, versions
from modelfleet.registry.store.workflows import workflow_names


def version_summaries(session: Session, workflow: str) -> list[dict[str, Any]]:
    """Each version with its month, candidate metrics, gate decision and alias."""
    production = versions.resolve_alias(session, workflow)
    summaries = []
    for version in versions.list_versions(session, workflow):
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
