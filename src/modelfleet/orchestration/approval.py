"""The approval step of `retrain__<wf>`: a person releases a candidate in Airflow's UI.

With `release.approval: required` (every candidate the gate passed) or `on_reject`
(a candidate the gate rejected), the DAG runs gate -> approve -> register -> deploy
-> smoke. `approve` is Airflow's own human-in-the-loop ApprovalOperator: it shows the
gate report, offers Approve and Reject, and asks for a reason. The answer is recorded
by `modelfleet.pipeline.approve` like `modelfleet approve`'s: an approval is a passed
`gate_decision` row naming the responder and reason, which register and deploy then
write into the alias history; a rejection is a rejected row, and register, deploy and
smoke are skipped.

Who may answer is the rule of the Models UI (`releases.may_release`): whoever may trigger the
workflow's DAG. Airflow's response API checks its own HITL permission; this step checks
the responder again against the trigger permission before acting on the answer, so an
auth manager whose two permissions differ cannot let anyone else release.

No run waits forever: after `release.approval_timeout` Airflow's scheduler answers with
the default, Reject (`on_timeout: reject`), which is recorded as a rejection by timeout.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import BaseOperator, Param, TriggerRule
from airflow.sdk.exceptions import AirflowSkipException

from modelfleet.config import Workflow
from modelfleet.errors import ModelfleetError
from modelfleet.naming import retrain_dag_id

APPROVE_TASK = "approve"
REASON = "reason"


class ApprovalRefused(ModelfleetError):
    """An answer this step may not act on: the responder may not release the workflow."""


class ReleaseApproval(ApprovalOperator):
    """Approve or reject the candidate of this run, with a reason, in Airflow's UI.

    `trained` is the `train` task's result (its `training_run_id`), resolved at run time.
    """

    template_fields = (*ApprovalOperator.template_fields, "trained")

    def __init__(self, *, workflow: Workflow, trained: Any, **kwargs: Any) -> None:
        policy = workflow.release
        # The DAG's params (its trigger form's month) come in too: not a question for the
        # person who approves, so the form holds only the reason.
        kwargs.pop("params", None)
        super().__init__(
            task_id=APPROVE_TASK,
            subject=f"Release a candidate of {workflow.name}?",  # refined at run time
            defaults=ApprovalOperator.REJECT,  # the scheduler's answer at the timeout
            params={
                # A default that validates ("" here): Airflow checks a task's params before
                # it runs. An empty reason is refused when the answer comes back.
                REASON: Param(
                    "",
                    type="string",
                    title="Reason",
                    description="Required: why you approve or reject it (kept in the record)",
                ),
            },
            response_timeout=policy.approval_timeout,
            **kwargs,
        )
        self.workflow = workflow.name
        self.mode = policy.approval
        self.trained = trained

    def execute(self, context: Any) -> Any:
        from modelfleet.pipeline import approve

        candidate = approve.candidate(self.workflow, self.trained["training_run_id"])
        if self.mode == "on_reject" and candidate.passed:
            raise AirflowSkipException(
                f"the gate passed training run {candidate.training_run_id}; "
                "release.approval is on_reject, so no approval is needed"
            )
        verdict = "passed" if candidate.passed else "rejected"
        self.subject = (
            f"Release {self.workflow} trained on {candidate.month}? The gate {verdict} it."
        )
        self.body = gate_report(candidate, self.response_timeout)
        print(f"waiting for a person to approve or reject: {self.subject}")
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        from modelfleet.pipeline import approve

        training_run_id = self.trained["training_run_id"]
        if event.get("timedout") or event.get("error_type") == "timeout":
            reason = f"no answer within {self.response_timeout} (release.on_timeout: reject)"
            approve.record_decision(
                self._context(training_run_id, None), training_run_id, approved=False, reason=reason
            )
            print(f"rejected: {reason}; register, deploy and smoke are skipped")
            self._skip_release(context)  # raises: the task runner skips them
            return {"approved": False, "actor": None, "reason": reason}
        responder = event.get("responded_by_user") or {}
        who = str(responder.get("name") or responder.get("id") or "")
        if not responder_may_release(responder, self.workflow):
            raise ApprovalRefused(
                f"user {who!r} may not release workflow {self.workflow!r}: that needs "
                f"permission to run the DAG {retrain_dag_id(self.workflow)}. Nothing was "
                "released; a user with that permission can clear this task to answer again"
            )
        reason = str((event.get("params_input") or {}).get(REASON) or "").strip()
        if not reason:
            raise ApprovalRefused(
                f"{who!r} answered without a reason; clear this task to answer again"
            )
        chosen = list(event.get("chosen_options") or [])
        self.validate_chosen_options(chosen)
        approved = chosen == [ApprovalOperator.APPROVE]
        ctx = self._context(training_run_id, who)
        # Recorded first: on Reject the operator skips register by raising, so nothing
        # after it runs.
        approve.record_decision(ctx, training_run_id, approved=approved, reason=reason)
        print(f"{'approved' if approved else 'rejected'} by {ctx.actor}: {reason}")
        super().execute_complete(context=context, event=event)  # skips register on Reject
        return {"approved": approved, "actor": ctx.actor, "reason": reason}

    def _context(self, training_run_id: int, person: str | None) -> Any:
        """The RunContext of this run, acting for `person` (None: nobody answered)."""
        from airflow.sdk import get_current_context

        from modelfleet.pipeline import approve
        from modelfleet.pipeline.context import RunContext
        from modelfleet.registry.entities import RunRef
        from modelfleet.versioning.commands import code_sha

        dag_run = get_current_context()["dag_run"]
        month = approve.candidate(self.workflow, training_run_id).month
        run = RunRef(dag_id=dag_run.dag_id, run_id=dag_run.run_id, code_sha=code_sha())
        return RunContext(self.workflow, month, run, operator=person, via="airflow")

    def _skip_release(self, context: Any) -> None:
        downstream = context["task"].get_direct_relatives(upstream=False)
        self.skip(ti=context["ti"], tasks=[t for t in downstream if not t.is_teardown])


def gate_report(candidate: Any, timeout: Any) -> str:
    """The step's body (Markdown): the gate's verdict and each check with its value and
    threshold, then what each answer does."""
    verdict = "**passed**" if candidate.passed else "**rejected**"
    rows = [
        f"| {c['name']} | {c['observed']:.4g} | {c['threshold']:.4g} | "
        f"{'pass' if c['passed'] else '**FAIL**'} | {c['detail']} |"
        for c in candidate.checks
    ]
    return "\n".join(
        [
            f"Training run {candidate.training_run_id} of **{candidate.workflow}**, trained "
            f"on {candidate.month}. The gate {verdict} it.",
            "",
            "| check | value | threshold | result | detail |",
            "|---|---|---|---|---|",
            *rows,
            "",
            "**Approve** registers the candidate and deploys it to production (the smoke "
            "test then checks the live endpoint). **Reject** records the rejection. Either "
            "way a reason is required; it goes into the record with your name. Only users "
            f"allowed to run `{retrain_dag_id(candidate.workflow)}` may answer. Without an "
            f"answer within {timeout}, the candidate is rejected.",
        ]
    )


def responder_may_release(responder: Mapping[str, Any], workflow: str) -> bool:
    """Whether the responding Airflow user may release `workflow` (`releases.may_release`,
    the Models UI's rule), asked of the configured auth manager."""
    from airflow.api_fastapi.app import create_auth_manager

    # Imported here, not at the top: the DAG processor parses this module on every
    # refresh and needs none of the registry that `releases` pulls in.
    from modelfleet.releases import may_release

    manager = create_auth_manager()
    user = _airflow_user(manager, responder)
    return user is not None and may_release(manager, user, workflow)


def _airflow_user(manager: Any, responder: Mapping[str, Any]) -> Any:
    """The auth manager's user for a HITL responder ({id, name}); None if unknown."""
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
    from airflow.configuration import conf

    user_id = responder.get("id")
    if not user_id:
        return None
    if isinstance(manager, SimpleAuthManager):
        # Its users and roles live in the configuration, not in a token we could replay.
        if conf.getboolean("core", "simple_auth_manager_all_admins"):
            from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

            return SimpleAuthManagerUser(username=str(user_id), role="admin")
        return next((u for u in manager.get_users() if u.get_id() == str(user_id)), None)
    try:  # e.g. FAB, whose users live in its database, keyed by the token's subject
        return manager.deserialize_user({"sub": str(user_id)})
    except Exception:  # an auth manager that cannot tell: refuse, never guess
        return None


def approval_step(workflow: Workflow, trained: Any) -> BaseOperator | None:
    """`retrain__<wf>`'s approval step, or None where `release.approval` is none (the
    DAG is then exactly as without this module)."""
    if workflow.release.approval == "none":
        return None
    return ReleaseApproval(workflow=workflow, trained=trained)


def wire(gate: Any, register: Any, workflow: Workflow, trained: Any) -> None:
    """gate >> register, or gate >> approve >> register where a person approves."""
    step = approval_step(workflow, trained)
    if step is None:
        gate >> register
        return
    gate >> step >> register
    # Under on_reject the step skips itself when the gate passed, and register must still
    # run; a Reject skips register explicitly, and a failed step fails it upstream.
    register.operator.trigger_rule = TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS
