"""The shadow step of `retrain__<wf>`: register -> shadow -> deploy, where
`release.shadow_fraction > 0` (else the DAG is exactly as without this module).

Registering makes the new version `candidate`; the endpoint then mirrors that share of
production traffic to it and stores its answers (serving/shadow.py). This sensor waits
in reschedule mode (it holds no worker slot between pokes) and asks
`modelfleet.pipeline.shadow.judge` each time: wait, pass (deploy and smoke follow), or
reject (recorded as a gate_decision row; the step is skipped, and with it deploy and
smoke). The timeout is judge's own, from the version's registration, so a rejection at
`shadow_timeout` is recorded with its reason; Airflow's sensor timeout, a little later,
is only a backstop.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowSkipException

from modelfleet.config import Workflow

SHADOW_TASK = "shadow"
POKE_INTERVAL = timedelta(minutes=1)


class ShadowRelease(BaseSensorOperator):
    """Wait for the candidate's shadow answers, then judge their agreement.

    `registered` is the `register` task's result (its `version`), resolved at run time.
    """

    template_fields = ("registered",)

    def __init__(
        self,
        *,
        workflow: Workflow,
        registered: Any,
        poke_interval: timedelta = POKE_INTERVAL,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("params", None)
        super().__init__(
            task_id=SHADOW_TASK,
            mode="reschedule",
            poke_interval=poke_interval,
            # a backstop only: judge rejects at shadow_timeout and records why
            timeout=workflow.release.shadow_timeout + 2 * poke_interval,
            **kwargs,
        )
        self.workflow = workflow.name
        self.registered = registered

    def poke(self, context: Any) -> PokeReturnValue | bool:
        from modelfleet.pipeline import shadow

        version = self.registered["version"]
        verdict = shadow.judge(run_context(self.workflow, version, context), version)
        if verdict is None:
            return False
        if not verdict.passed:
            raise AirflowSkipException(f"shadow rejected: {verdict.reason}")
        return PokeReturnValue(is_done=True, xcom_value=verdict.as_dict())


def run_context(workflow: str, version: str, context: Any) -> Any:
    """The RunContext of this run, on the month the candidate `version` trained on."""
    from sqlalchemy.orm import Session

    from modelfleet.pipeline.context import RunContext
    from modelfleet.registry import db
    from modelfleet.registry.entities import RunRef
    from modelfleet.registry.store import runs, versions
    from modelfleet.versioning.commands import code_sha

    with Session(db.engine()) as session:
        training_run_id = versions.get_version(session, workflow, version).training_run_id
        training = runs.get_training_run(session, training_run_id)
        month = runs.get_dataset_version(session, training.dataset_version_id).month
    dag_run = context["dag_run"]
    run = RunRef(dag_id=dag_run.dag_id, run_id=dag_run.run_id, code_sha=code_sha())
    return RunContext(workflow, month, run)


def wire(registered: Any, deploy: Any, workflow: Workflow) -> None:
    """register >> shadow >> deploy where release.shadow_fraction > 0; else nothing (the
    deploy task already follows register through its argument)."""
    if workflow.release.shadow_fraction <= 0:
        return
    step = ShadowRelease(workflow=workflow, registered=registered)
    registered >> step >> deploy
