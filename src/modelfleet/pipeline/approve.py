"""A person's word on a candidate: `modelfleet approve`, and the approval step of
`retrain__<wf>` in Airflow (`release.approval`, orchestration/approval.py).

An approval is a new `gate_decision` row (passed, with the actor and reason); the
candidate then goes through the same register, deploy and smoke steps as a passing
one, in the workspace of the run that trained it, and those steps name the actor and
reason in the alias history (`decided_context`). The last few workspaces of a
workflow are kept (versioning/workspace.py); an older candidate cannot be approved
from the CLI, because its weights are gone.

A rejection in Airflow (a person's, or the approval timeout's) is a new rejected row
whose `manual_review` check names who rejected it and why.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
MANUAL_OVERRIDE = "manual_override"  # the check of an approval's gate_decision row
MANUAL_REVIEW = "manual_review"  # the check of a rejection's row (person or timeout)


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
        record_approval(session, training.id, ctx, reason)
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


def record_approval(session: Session, training_run_id: int, ctx: RunContext, reason: str) -> None:
    """The override row: passed, by `ctx.actor`, for `reason` (not committed here)."""
    check = GateCheck(
        name=MANUAL_OVERRIDE,
        observed=1.0,
        threshold=1.0,
        passed=True,
        detail=f"approved by {ctx.actor}: {reason}",
    )
    runs.add_gate_decision(
        session,
        NewGateDecision(
            training_run_id=training_run_id,
            passed=True,
            checks=[check],
            run=ctx.run,
            override_actor=ctx.actor,
            override_reason=reason,
        ),
    )


@dataclass(frozen=True)
class Candidate:
    """What a person deciding on a candidate sees: the gate's verdict and every check."""

    workflow: str
    training_run_id: int
    month: str
    passed: bool
    checks: list[dict[str, Any]]  # GateCheck.as_dict() of each check


def candidate(workflow: str, training_run_id: int) -> Candidate:
    """Training run `training_run_id` of `workflow` as the gate last judged it."""
    with Session(db.engine()) as session:
        training = runs.get_training_run(session, training_run_id)
        decision = runs.latest_gate_decision(session, training_run_id)
        if decision is None:
            raise RegistryError(f"training run {training_run_id} has not been through the gate")
        month = runs.get_dataset_version(session, training.dataset_version_id).month
    return Candidate(workflow, training_run_id, month, decision.passed, decision.checks)


def record_decision(ctx: RunContext, training_run_id: int, *, approved: bool, reason: str) -> None:
    """Record an answer of the approval step: `ctx.actor` approved or rejected the
    candidate for `reason` (a rejection by timeout has no person: `ctx.operator` None)."""
    if not reason.strip():
        raise RegistryError("a decision on a candidate needs a reason")
    with Session(db.engine()) as session, session.begin():
        if approved:
            record_approval(session, training_run_id, ctx, reason)
            return
        earlier = runs.latest_gate_decision(session, training_run_id)
        by = f"rejected by {ctx.actor}" if ctx.operator else "rejected"
        review = GateCheck(
            name=MANUAL_REVIEW, observed=0.0, threshold=1.0, passed=False, detail=f"{by}: {reason}"
        )
        # The gate's own checks stay beside the person's verdict, so the latest row tells
        # the whole story; no override_actor, which marks an approval.
        kept = [GateCheck(**c) for c in earlier.checks] if earlier else []
        runs.add_gate_decision(
            session,
            NewGateDecision(
                training_run_id=training_run_id,
                passed=False,
                checks=[*kept, review],
                run=ctx.run,
            ),
        )


def decided_context(ctx: RunContext, training_run_id: int) -> RunContext:
    """`ctx` acting for the person who approved training run `training_run_id`, if one
    did (the release steps then name them and their reason); else `ctx` itself."""
    with Session(db.engine()) as session:
        decision = runs.latest_gate_decision(session, training_run_id)
    if decision is None or not decision.passed or not decision.override_actor:
        return ctx
    via, _, person = decision.override_actor.partition(":")
    return replace(ctx, operator=person, via=via, approval=decision.override_reason)


def decided_context_of(ctx: RunContext, version: str) -> RunContext:
    """`decided_context` of the training run that made registered `version`."""
    with Session(db.engine()) as session:
        training_run_id = versions.get_version(session, ctx.workflow_name, version).training_run_id
    return decided_context(ctx, training_run_id)
