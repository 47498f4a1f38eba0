"""Read-only summaries for people: a workflow's versions and its alias history."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from modelfleet.registry.store import runs, versions


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
