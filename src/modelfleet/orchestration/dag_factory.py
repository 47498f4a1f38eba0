"""Build one `retrain__<wf>` DAG per workflow in workflows.yaml.

Wiring only: every task calls one function in `modelfleet.pipeline.steps`,
imported inside the task so that parsing DAGs never imports TensorFlow or GX.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.sdk import DAG, Param, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from modelfleet.config import Fleet, Workflow
from modelfleet.orchestration.pools import MODEL_REPO_POOL

_PRESETS = {"@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0", "@daily": "0 0 * * *"}


def _run_context(workflow: str) -> Any:
    """The RunContext of the running task: month from conf, else the data interval."""
    from modelfleet.months import month_of
    from modelfleet.pipeline.context import RunContext
    from modelfleet.registry.entities import RunRef
    from modelfleet.versioning.commands import code_sha

    context = get_current_context()
    dag_run = context["dag_run"]
    month = (dag_run.conf or {}).get("month") or context["params"].get("month")
    if not month:
        start = context.get("data_interval_start") or context["logical_date"]
        month = month_of(start)
    return RunContext(
        workflow_name=workflow,
        month=month,
        run=RunRef(dag_id=dag_run.dag_id, run_id=dag_run.run_id, code_sha=code_sha()),
    )


def build_retrain_dag(workflow: Workflow) -> DAG:
    name = workflow.name
    cron = _PRESETS.get(workflow.schedule, workflow.schedule)
    with DAG(
        dag_id=workflow.dag_id,
        description=f"Monthly retrain of {name}: validate, train, gate, register, deploy",
        # Each run trains on the month its data interval starts in (a run on
        # 1 March processes February), or on `month` from the trigger form.
        schedule=CronDataIntervalTimetable(cron, timezone="UTC"),
        start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),  # noqa: UP017
        catchup=False,
        max_active_runs=1,  # runs share the model repo and compare with production in turn
        is_paused_upon_creation=True,
        params={
            "month": Param(
                None,
                type=["null", "string"],
                pattern=r"^\d{4}-\d{2}$",
                description="YYYY-MM to train on (default: the data interval)",
            )
        },
        tags=["modelfleet", name],
        doc_md=__doc__,
    ) as dag:

        @task
        def snapshot() -> dict[str, Any]:
            """Skips the whole run (visibly) when the source has no data for the month."""
            from airflow.sdk.exceptions import AirflowSkipException

            from modelfleet.errors import NoDataForMonth
            from modelfleet.pipeline import steps

            try:
                return steps.snapshot(_run_context(name))
            except NoDataForMonth as exc:
                raise AirflowSkipException(str(exc)) from None

        @task
        def validate(snap: dict[str, Any]) -> dict[str, Any]:
            """Fails the run on bad data; may quarantine bad files and re-snapshot."""
            from modelfleet.pipeline import steps

            return steps.validate(_run_context(name), snap["dataset_version_id"])

        @task(pool=MODEL_REPO_POOL)
        def train(validated: dict[str, Any]) -> dict[str, Any]:
            from modelfleet.pipeline import steps

            return steps.train(_run_context(name), validated["dataset_version_id"])

        @task(pool=MODEL_REPO_POOL)
        def evaluate(trained: dict[str, Any]) -> dict[str, Any]:
            from modelfleet.pipeline import steps

            return steps.evaluate(_run_context(name), trained["training_run_id"])

        @task.short_circuit
        def gate(trained: dict[str, Any], _evaluated: dict[str, Any]) -> bool:
            """False skips register, deploy and smoke; the reasons are in this log."""
            from modelfleet.pipeline import steps

            return steps.gate(_run_context(name), trained["training_run_id"])

        @task
        def register(trained: dict[str, Any]) -> dict[str, Any]:
            from modelfleet.pipeline import steps

            return steps.register(_run_context(name), trained["training_run_id"])

        @task
        def deploy(registered: dict[str, Any]) -> dict[str, Any]:
            from modelfleet.pipeline import steps

            return steps.deploy(_run_context(name), registered["version"])

        @task
        def smoke(deployed: dict[str, Any]) -> dict[str, Any]:
            """Checks the live endpoint; a failure rolls production back, then fails."""
            from airflow.sdk.exceptions import AirflowSkipException

            from modelfleet.pipeline import steps

            if not deployed["moved"]:
                raise AirflowSkipException("a newer version is in production; nothing to check")
            return steps.smoke(_run_context(name), deployed["version"], deployed["previous"])

        trained = train(validate(snapshot()))
        passed = gate(trained, evaluate(trained))
        registered = register(trained)
        passed >> registered
        smoke(deploy(registered))
    return dag


def build_all(fleet: Fleet) -> dict[str, DAG]:
    return {wf.dag_id: build_retrain_dag(wf) for wf in fleet.workflows.values()}
