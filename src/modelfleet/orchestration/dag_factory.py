"""Build the DAGs of each workflow in workflows.yaml: `retrain__<wf>`, `reclassify__<wf>`
and `monitor__<wf>` (orchestration.monitor_dag).

Wiring only: every task calls one function in `modelfleet.pipeline` (`data`,
`training`, `release` or `reclassify`), imported inside the task so that parsing DAGs
never imports TensorFlow or GX.

`retrain__<wf>` updates the Airflow asset `modelfleet://<wf>/production` when a new
version passed `smoke` in production (the event's extra names the version);
`reclassify__<wf>` is scheduled on it where `ingest.reclassify_after_promotion` is set,
and is otherwise triggered by hand.

A shipped workflow's `retrain__<wf>` is created paused (the operator starts the fleet);
one the user added (`modelfleet workflow add`, in workflows.d) is created unpaused: adding
it is the request to run it, and the DAG processor's next parse (at most
`min_file_process_interval` later) brings it up with no call to Airflow that could fail
or find the platform stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial
from typing import Any

from airflow.sdk import DAG, Asset, Param, get_current_context, task

from modelfleet.config import Fleet, Workflow
from modelfleet.naming import (
    PIN_PATTERN,
    PRODUCTION,
    monitor_dag_id,
    production_asset_uri,
    reclassify_dag_id,
)
from modelfleet.orchestration import approval, shadow_step
from modelfleet.orchestration.dag_docs import DagKind, dag_tags, reclassify_doc, retrain_doc
from modelfleet.orchestration.monitor_dag import (
    alert_retrain_refusal,
    build_monitor_dag,
    is_alert_run,
    retrain_schedule,
)
from modelfleet.orchestration.months_with_data import (
    latest_month_with_data,
    months_with_data,
    recorded_at_parse,
)
from modelfleet.orchestration.pools import MODEL_REPO_POOL
from modelfleet.orchestration.skips import skip

_PRESETS = {"@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0", "@daily": "0 0 * * *"}
_START = datetime(2026, 1, 1, tzinfo=timezone.utc)  # noqa: UP017
_DAY = r"^\d{4}-\d{2}-\d{2}$"
_MONTH = r"^\d{4}-\d{2}$"


def production_asset(workflow: str) -> Asset:
    """Updated when a new version of `workflow` passed its smoke test in production."""
    return Asset(production_asset_uri(workflow))


def _workflow_dag(workflow: Workflow, kind: DagKind, **settings: Any) -> DAG:
    """A DAG of `workflow` with what its retrain and reclassify DAGs share: no catch-up,
    the kind's tags, and one run at a time (retrain runs share the model repo and compare
    with production in turn; a reclassify run holds the one pin of the reclassify
    application for the workflow)."""
    return DAG(
        start_date=_START,
        catchup=False,
        max_active_runs=1,
        tags=dag_tags(workflow, kind),
        **settings,
    )


def _optional(pattern: str, description: str, **schema: Any) -> Param:
    """A trigger-form field that may stay blank (None), else must match `pattern`."""
    return Param(None, type=["null", "string"], pattern=pattern, description=description, **schema)


def _run_context(workflow: str) -> Any:
    """The RunContext of the running task: the month from conf; else, for a manual run,
    the latest month with data when the run was created; else the data interval's."""
    from modelfleet.config import load_fleet
    from modelfleet.months import month_of
    from modelfleet.pipeline.context import RunContext
    from modelfleet.registry.entities import RunRef
    from modelfleet.settings import get_settings
    from modelfleet.versioning.commands import code_sha

    context = get_current_context()
    dag_run = context["dag_run"]
    month = (dag_run.conf or {}).get("month") or context["params"].get("month")
    run = RunRef(dag_id=dag_run.dag_id, run_id=dag_run.run_id, code_sha=code_sha())
    if not month and _is_manual(dag_run):
        # Every task asks again: `run_after` keeps the answer fixed for the whole run
        # even if a month is imported meanwhile.
        declared = load_fleet(get_settings().config_file).get(workflow)
        month = latest_month_with_data(declared, dag_run.run_after)
    if not month:  # scheduled runs and backfills: their data interval's month
        start = context.get("data_interval_start") or context["logical_date"]
        month = month_of(start)
    # only labels given up to the data interval's end join the snapshot (docs/monitoring.md)
    until = context.get("data_interval_end") or dag_run.run_after
    return RunContext(workflow_name=workflow, month=month, run=run, labels_until=until)


def _is_manual(dag_run: Any) -> bool:
    """A run by hand, or one a monitor alert started (monitor.retrain_on_alert): both
    train on the latest month with data, not on a data interval's."""
    return getattr(dag_run.run_type, "value", dag_run.run_type) == "manual" or is_alert_run(
        dag_run.run_id
    )


def build_retrain_dag(
    workflow: Workflow, *, paused: bool = True, months: list[str] | None = None
) -> DAG:
    """`paused`: whether the DAG is paused when Airflow first sees it; `months`: those
    with data, proposed by the trigger form (examples, not an enum: a month that arrives
    after this parse is still accepted)."""
    name = workflow.name
    cron = _PRESETS.get(workflow.schedule, workflow.schedule)
    with _workflow_dag(
        workflow,
        "retrain",
        dag_id=workflow.dag_id,
        description=f"Monthly retrain of {name}: validate, train, gate, register, deploy",
        # Each run trains on the month its data interval starts in (a run on
        # 1 March processes February), or on `month` from the trigger form.
        # With monitor.retrain_on_alert, the drift asset starts a run early too.
        schedule=retrain_schedule(workflow, cron),
        is_paused_upon_creation=paused,
        params={
            "month": _optional(
                _MONTH,
                "YYYY-MM to train on (blank: the latest month with data)",
                **({"examples": months} if months else {}),
            )
        },
        doc_md=retrain_doc(workflow),
    ) as dag:

        @task
        def snapshot() -> dict[str, Any]:
            """Skips the whole run (visibly) when the source has no data for the month."""
            from modelfleet.errors import NoDataForMonth
            from modelfleet.pipeline import data

            ctx = _run_context(name)
            dag_run = get_current_context()["dag_run"]
            refusal = alert_retrain_refusal(workflow, dag_run.run_id, dag_run.run_after)
            if refusal is not None:
                raise skip(ctx.month, refusal)
            try:
                return data.snapshot(ctx)
            except NoDataForMonth as exc:
                raise skip(ctx.month, str(exc)) from None

        @task
        def validate(snap: dict[str, Any]) -> dict[str, Any]:
            """Fails the run on bad data; may quarantine bad files and re-snapshot."""
            from modelfleet.pipeline import data

            return data.validate(_run_context(name), snap["dataset_version_id"])

        @task(pool=MODEL_REPO_POOL)
        def train(validated: dict[str, Any]) -> dict[str, Any]:
            from modelfleet.pipeline import training

            return training.train(_run_context(name), validated["dataset_version_id"])

        @task(pool=MODEL_REPO_POOL)
        def evaluate(trained: dict[str, Any]) -> dict[str, Any]:
            from modelfleet.pipeline import training

            return training.evaluate(_run_context(name), trained["training_run_id"])

        @task.short_circuit
        def gate(trained: dict[str, Any], _evaluated: dict[str, Any]) -> bool:
            """False skips register, deploy and smoke; the reasons are in this log.
            Under `release.approval: on_reject` a rejected candidate goes on to `approve`."""
            from modelfleet.pipeline import release

            passed = release.gate(_run_context(name), trained["training_run_id"])
            return passed or workflow.release.approval == "on_reject"

        @task
        def register(trained: dict[str, Any]) -> dict[str, Any]:
            from modelfleet.pipeline import approve, release

            # approved in the `approve` step: the alias history names who and why
            ctx = approve.decided_context(_run_context(name), trained["training_run_id"])
            return release.register(ctx, trained["training_run_id"])

        @task
        def deploy(registered: dict[str, Any]) -> dict[str, Any]:
            from modelfleet.pipeline import approve, release

            ctx = approve.decided_context_of(_run_context(name), registered["version"])
            return release.deploy(ctx, registered["version"])

        # The asset is updated only when smoke succeeds: not when production did not
        # move (skipped) nor when it was rolled back (failed).
        promoted = production_asset(name)

        @task(outlets=[promoted])
        def smoke(deployed: dict[str, Any]) -> dict[str, Any]:
            """Checks the live endpoint; a failure rolls production back, then fails."""
            from modelfleet.pipeline import release

            ctx = _run_context(name)
            if not deployed["moved"]:
                raise skip(ctx.month, "a newer version is in production; nothing to check")
            report = release.smoke(ctx, deployed["version"], deployed["previous"])
            get_current_context()["outlet_events"][promoted].extra = {
                "version": deployed["version"]
            }
            return report

        # TaskFlow: a task called with an upstream XComArg gets its value at run time;
        # Airflow types the call by the function's own parameters.
        trained = train(validate(snapshot()))  # type: ignore[arg-type]
        passed = gate(trained, evaluate(trained))  # type: ignore[arg-type]
        registered = register(trained)  # type: ignore[arg-type]
        approval.wire(passed, registered, workflow, trained)  # gate >> [approve >>] register
        deployed = deploy(registered)  # type: ignore[arg-type]
        shadow_step.wire(registered, deployed, workflow)  # register >> [shadow >>] deploy
        smoke(deployed)  # type: ignore[arg-type]
    return dag


def _actor(context: Any) -> str:
    return f"airflow:{context['dag_run'].run_id}"


def _reclassify_version(context: Any) -> str:
    """The version a run asked for; after a promotion, the version the event names."""
    version = context["params"]["version"]
    events = context.get("triggering_asset_events") or {}
    promoted = [e.extra["version"] for per_asset in events.values() for e in per_asset if e.extra]
    if version == PRODUCTION and promoted:
        return promoted[-1]
    return version


def build_reclassify_dag(workflow: Workflow) -> DAG:
    name = workflow.name
    with _workflow_dag(
        workflow,
        "reclassify",
        dag_id=reclassify_dag_id(name),
        description=f"Re-classify stored {name} images with one model version",
        schedule=[production_asset(name)] if workflow.ingest.reclassify_after_promotion else None,
        # Triggered by hand, or by a promotion where workflows.yaml asks for it: no
        # run happens that nobody asked for, so there is nothing to hold back.
        is_paused_upon_creation=False,
        params={
            "version": Param(
                PRODUCTION,
                type="string",
                pattern=PIN_PATTERN,
                description="production, candidate or vX.Y.Z",
            ),
            "first_day": _optional(_DAY, "YYYY-MM-DD, first lake partition (default: the first)"),
            "last_day": _optional(_DAY, "YYYY-MM-DD, last lake partition (default: the last)"),
            "batch_size": Param(
                workflow.ingest.batch_size,
                type="integer",
                minimum=1,
                maximum=256,  # MAX_BATCH of modelfleet.pipeline.reclassify
                description="images per endpoint request",
            ),
        },
        doc_md=reclassify_doc(workflow),
    ) as dag:

        @task
        def pin() -> str:
            """Resolves the version and pins it for the reclassify application."""
            from modelfleet.pipeline import reclassify as steps
            from modelfleet.settings import get_settings

            context = get_current_context()
            version = _reclassify_version(context)
            return steps.pin(get_settings(), name, version, actor=_actor(context))

        @task
        def wait_loaded(version: str) -> str:
            from modelfleet.pipeline import reclassify as steps
            from modelfleet.settings import get_settings

            steps.wait_loaded(get_settings(), name, version)
            return version

        @task
        def reclassify(version: str) -> dict[str, int]:
            """New prediction rows for the stored images; progress once per batch."""
            from modelfleet.pipeline import reclassify as steps
            from modelfleet.settings import get_settings

            context = get_current_context()
            params = context["params"]
            job = steps.Reclassification(
                workflow=name,
                version=version,
                run_id=context["dag_run"].run_id,
                first_day=params["first_day"] or steps.FIRST_DAY,
                last_day=params["last_day"] or steps.LAST_DAY,
                batch_size=params["batch_size"],
            )
            return steps.reclassify(get_settings(), job)

        @task
        def unpin() -> None:
            """Teardown: runs whenever `pin` succeeded, whatever happened after it."""
            from modelfleet.pipeline import reclassify as steps

            steps.unpin(name, actor=_actor(get_current_context()))

        pinned = pin()
        # TaskFlow's XComArgs, as above: `pinned` is pin's task to Airflow at parse time
        reclassify(wait_loaded(pinned)) >> unpin().as_teardown(setups=pinned)  # type: ignore[arg-type]
    return dag


def build_all(fleet: Fleet, only: str | None = None) -> dict[str, DAG]:
    """Every DAG of the fleet by id: `retrain__<wf>`, `reclassify__<wf>` and `monitor__<wf>`.

    `only`, where it is one of those ids, builds just that DAG: an Airflow task process
    parses the DAG file for its own DAG (Airflow's parsing context names it), and
    building the other DAGs of the fleet would take most of that parse. Any other value,
    None included (the DAG processor), builds them all.
    """

    def retrain(wf: Workflow, months: list[str] | None = None) -> Callable[[], DAG]:
        return partial(
            build_retrain_dag, wf, paused=wf.name not in fleet.user_workflows, months=months
        )

    builders: dict[str, Callable[[], DAG]] = {}
    for wf in fleet.workflows.values():
        builders[wf.dag_id] = retrain(wf)
        builders[reclassify_dag_id(wf.name)] = partial(build_reclassify_dag, wf)
        builders[monitor_dag_id(wf.name)] = partial(
            build_monitor_dag, wf, paused=wf.name not in fleet.user_workflows
        )
    if only is not None and only in builders:
        # A task process runs a task and never shows the trigger form: the months the
        # form proposes are left out, and with them a registry connection per task.
        return {only: builders[only]()}
    recorded = recorded_at_parse(fleet)  # one query for the fleet; {} without Postgres
    for wf in fleet.workflows.values():
        builders[wf.dag_id] = retrain(wf, months_with_data(wf, recorded))
    return {dag_id: build() for dag_id, build in builders.items()}
