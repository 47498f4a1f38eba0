"""The shadow step of `retrain__<wf>` (release.shadow_fraction > 0): judge the candidate
by how often it answered mirrored production traffic as production did.

The endpoint mirrors the traffic and stores the answers (serving/shadow.py); this
module only reads them. `judge` is asked again and again (the step waits in reschedule
mode): it says wait until `min_shadow_requests` answers are stored, then checks
`min_shadow_agreement`. A candidate short of answers `shadow_timeout` after it was
registered is rejected. A rejection is a new rejected `gate_decision` row, the gate's
checks kept beside a `shadow_agreement` check with the reason, as the approval step
records a rejection (pipeline/approve.py); a pass adds no row, so the latest row still
names whoever approved the candidate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from modelfleet.pipeline.context import RunContext
from modelfleet.registry import db
from modelfleet.registry.entities import GateCheck, NewGateDecision
from modelfleet.registry.store import runs, shadow, versions

log = logging.getLogger(__name__)
SHADOW_CHECK = "shadow_agreement"


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str
    agreement: dict[str, Any]  # Agreement.as_dict()

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "reason": self.reason, "agreement": self.agreement}


def judge(ctx: RunContext, version: str, now: datetime | None = None) -> Verdict | None:
    """None while the candidate `version` has too few shadow answers and time is left;
    else the verdict, a rejection recorded."""
    policy = ctx.workflow.release
    now = now or datetime.now(UTC)
    with Session(db.engine()) as session:
        registered = versions.get_version(session, ctx.workflow_name, version)
        got = shadow.agreement(session, registered.id)
    rate = got.rate
    if got.answered >= policy.min_shadow_requests and rate is not None:
        passed = rate >= policy.min_shadow_agreement
        reason = (
            f"the candidate {version} agreed with production on {got.agreed} of "
            f"{got.answered} mirrored requests ({rate:.2%}); release.min_shadow_agreement "
            f"is {policy.min_shadow_agreement:.2%}"
        )
        observed = rate
    elif now - registered.created_at >= policy.shadow_timeout:
        passed = False
        reason = (
            f"only {got.answered} of release.min_shadow_requests {policy.min_shadow_requests} "
            f"mirrored requests answered by the candidate {version} within "
            f"release.shadow_timeout {policy.shadow_timeout}"
        )
        observed = rate if rate is not None else 0.0
    else:
        log.info(
            "shadow of %s %s: %d of %d mirrored requests answered; waiting",
            ctx.workflow_name,
            version,
            got.answered,
            policy.min_shadow_requests,
        )
        return None
    verdict = Verdict(passed, reason, got.as_dict())
    if passed:
        log.info("shadow passed: %s; deploy and smoke follow", reason)
    else:
        log.warning("shadow rejected: %s; deploy and smoke are skipped", reason)
        check = GateCheck(
            name=SHADOW_CHECK,
            observed=observed,
            threshold=policy.min_shadow_agreement,
            passed=False,
            detail=reason,
        )
        record_rejection(ctx, registered.training_run_id, check)
    return verdict


def record_rejection(ctx: RunContext, training_run_id: int, check: GateCheck) -> None:
    """A rejected `gate_decision` row: the latest row's checks, then `check`."""
    with Session(db.engine()) as session, session.begin():
        earlier = runs.latest_gate_decision(session, training_run_id)
        kept = [GateCheck(**c) for c in earlier.checks] if earlier else []
        runs.add_gate_decision(
            session,
            NewGateDecision(
                training_run_id=training_run_id, passed=False, checks=[*kept, check], run=ctx.run
            ),
        )
