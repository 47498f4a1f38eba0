"""`modelfleet approve`: release a candidate the gate rejected, on a person's word.

The override is a new `gate_decision` row (passed, with the operator and reason);
the candidate then goes through the same register, deploy and smoke steps as a
passing one, in the workspace of the run that trained it. The last few workspaces
of a workflow are kept (versioning/workspace.py); an older candidate cannot be
approved, because its weights are gone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from modelfleet.datasets.manifest import sha256_file
from modelfleet.errors import NotFound, RegistryError, VersioningError
from modelfleet.naming import model_file
from modelfleet.pipeline import release
from modelfleet.pipeline.context import RunContext
from modelfleet.registry import db
from modelfleet.registry.entities import (
    GateCheck,
    GateDecision,
    NewGateDecision,
    RunRef,
    TrainingRun,
)
from modelfleet.registry.store import runs, versions
from modelfleet.versioning.commands import code_sha

LATEST = "latest"


def approve(workflow: str, candidate: str, *, reason: str, operator: str) -> dict[str, Any]:
    """Approve training run `candidate` (an id, or "latest" rejected) of `workflow`."""
    if not reason.strip():
        raise RegistryError("approving a rejected candidate needs a reason (--reason)")
    with Session(db.engine()) as session:
        training = _rejected_candidate(session, workflow, candidate)
        month = runs.get_dataset_version(session, training.dataset_version_id).month
        ctx = RunContext(
            workflow,
            month,
            RunRef(dag_id=training.dag_id, run_id=training.run_id, code_sha=code_sha()),
            operator=operator,
            approval=reason,
        )
        weights = ctx.workspace().path / model_file(workflow)
        if not weights.is_file() or sha256_file(weights) != training.artifact_sha256:
            raise VersioningError(
                f"the workspace of run {training.run_id} no longer holds training run "
                f"{training.id}'s weights; re-run month {month} and approve that run"
            )
        rejected = runs.latest_gate_decision(session, training.id)
        checks = [
            GateCheck(
                name="manual_override",
                observed=1.0,
                threshold=1.0,
                passed=True,
                detail=f"approved by {ctx.actor}: {reason}",
            )
        ]
        runs.add_gate_decision(
            session,
            NewGateDecision(
                training_run_id=training.id,
                passed=True,
                checks=checks,
                run=ctx.run,
                override_actor=ctx.actor,
                override_reason=reason,
            ),
        )
        overridden = [c["detail"] for c in rejected.checks if not c["passed"]] if rejected else []
        session.commit()
    print(f"approving training run {training.id} of {workflow} ({month}) over: {overridden}")
    registered = release.register(ctx, training.id)
    deployed = release.deploy(ctx, registered["version"])
    if deployed["moved"]:
        release.smoke(ctx, deployed["version"], deployed["previous"])
    return {**registered, "moved": deployed["moved"], "overridden": overridden}


def _rejected_candidate(session: Session, workflow: str, candidate: str) -> TrainingRun:
    trainings = runs.training_runs(session, workflow)
    if not trainings:
        raise NotFound(f"workflow {workflow!r} has no training runs")
    released = {v.training_run_id for v in versions.list_versions(session, workflow)}
    if candidate == LATEST:
        for training in trainings:
            decision = runs.latest_gate_decision(session, training.id)
            if _approvable(decision) and training.id not in released:
                return training
        raise NotFound(f"workflow {workflow!r} has no rejected candidate to approve")
    if not candidate.isdigit():
        raise RegistryError(f"candidate {candidate!r} is neither a training run id nor 'latest'")
    found = next((t for t in trainings if t.id == int(candidate)), None)
    if found is None:
        raise NotFound(f"workflow {workflow!r} has no training run {candidate}")
    decision = runs.latest_gate_decision(session, found.id)
    if decision is None:
        raise RegistryError(f"training run {found.id} has not been through the gate yet")
    if not _approvable(decision) or found.id in released:
        raise RegistryError(f"training run {found.id} was not rejected; nothing to approve")
    return found


def _approvable(decision: GateDecision | None) -> bool:
    """Rejected, or approved before by someone whose release did not get through."""
    return decision is not None and (not decision.passed or decision.override_actor is not None)
