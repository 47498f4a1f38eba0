"""`monitor__<wf>`: one monitor report per window of the prediction log, and, when it
raised alerts, the Airflow asset `modelfleet://<wf>/drift`.

    report -> alerted (short circuit: no alert, no event) -> announce (outlet: drift)

`report` stores the `monitor_report` row, its `monitor_alert` rows and their webhook
events in one transaction (modelfleet.monitoring.run). The asset event is emitted by
`announce` alone, so it means "this window raised an alert": with
`monitor.retrain_on_alert`, `retrain__<wf>` is scheduled on it as well as on its cron
(`retrain_schedule`), and `alert_retrain_refusal` holds such runs to one per
`monitor.min_hours_between_retrains`.

Every task imports the monitoring code inside itself: parsing stays free of numpy-heavy
work and of TensorFlow.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from modelfleet.config import Workflow
from modelfleet.naming import drift_asset_uri, monitor_dag_id, retrain_dag_id
from modelfleet.orchestration.dag_docs import dag_tags

_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
}
_START = datetime(2026, 1, 1, tzinfo=timezone.utc)  # noqa: UP017
# Airflow names a run its asset event started `asset_triggered__<when>_<suffix>`.
ALERT_RUN_PREFIX = "asset_triggered__"


def drift_asset(workflow: str) -> Asset:
    """Updated when a monitor window of `workflow` raised at least one alert."""
    return Asset(drift_asset_uri(workflow))


def cron_of(schedule: str) -> str:
    return _PRESETS.get(schedule, schedule)


def retrain_schedule(workflow: Workflow, cron: str) -> Any:
    """retrain__<wf>'s schedule: its cron, or with `monitor.retrain_on_alert` its cron
    or the drift asset, whichever comes first (Airflow's asset-or-time schedule)."""
    if not workflow.monitor.retrain_on_alert:
        return CronDataIntervalTimetable(cron, timezone="UTC")
    # the Task SDK's own cron timetable: the one its AssetOrTimeSchedule is typed with
    from airflow.sdk.definitions.timetables.interval import (
        CronDataIntervalTimetable as SdkCronDataIntervalTimetable,
    )

    return AssetOrTimeSchedule(
        timetable=SdkCronDataIntervalTimetable(cron, timezone="UTC"),
        assets=drift_asset(workflow.name),
    )


def is_alert_run(run_id: str) -> bool:
    return run_id.startswith(ALERT_RUN_PREFIX)


def alert_retrain_refusal(workflow: Workflow, run_id: str, now: datetime) -> str | None:
    """Why an alert-triggered retrain run must not go on (another one snapshotted within
    `monitor.min_hours_between_retrains`), or None: it may."""
    if not is_alert_run(run_id):
        return None
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from modelfleet.registry import db
    from modelfleet.registry.tables import DatasetVersionRow

    hours = workflow.monitor.min_hours_between_retrains
    since = now - timedelta(hours=hours)
    with Session(db.engine()) as session:
        last = session.scalar(
            sa.select(sa.func.max(DatasetVersionRow.created_at)).where(
                DatasetVersionRow.dag_id == retrain_dag_id(workflow.name),
                DatasetVersionRow.run_id.startswith(ALERT_RUN_PREFIX),
                DatasetVersionRow.run_id != run_id,
                DatasetVersionRow.created_at > since,
            )
        )
    if last is None:
        return None
    return (
        f"an alert already started a retrain of {workflow.name} at {last:%Y-%m-%d %H:%M} UTC; "
        f"monitor.min_hours_between_retrains is {hours:g}"
    )


def window_of(context: Any, window: timedelta) -> tuple[datetime, datetime]:
    """[end - window, end): end is the run's data-interval end (its run_after by hand)."""
    end = context.get("data_interval_end") or context["dag_run"].run_after
    return end - window, end


def build_monitor_dag(workflow: Workflow, *, paused: bool = True) -> DAG:
    """`paused`: as its retrain__<wf> (a shipped workflow's DAGs wait for the operator; a
    hourly DAG per workflow unpaused on creation would also run inside every harness
    that starts a scheduler)."""
    name = workflow.name
    policy = workflow.monitor
    drift = drift_asset(name)
    with DAG(
        dag_id=monitor_dag_id(name),
        description=f"Monitors of {name}'s predictions: drift, confidence, volume, accuracy",
        schedule=CronDataIntervalTimetable(cron_of(policy.schedule), timezone="UTC"),
        start_date=_START,
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=paused,
        tags=dag_tags(workflow, "monitor"),
        doc_md=_doc(workflow),
    ) as dag:

        @task
        def report() -> dict[str, Any]:
            """Stores the window's report, its alerts and their webhook events."""
            from sqlalchemy.orm import Session

            from modelfleet.monitoring import run
            from modelfleet.registry import db

            context = get_current_context()
            start, end = window_of(context, policy.window)
            dag_run = context["dag_run"]
            with Session(db.engine()) as session, session.begin():
                found = run.compute(session, workflow, start, end)
                report_id = run.store(
                    session, workflow, found, dag_id=dag_run.dag_id, run_id=dag_run.run_id
                )
            return {
                "report_id": report_id,
                "version": found["version"],
                "n_logged": found["n_logged"],
                "alerts": [a["kind"] for a in found["alerts"]],
            }

        @task.short_circuit
        def alerted(summary: dict[str, Any]) -> bool:
            return bool(summary["alerts"])

        @task(outlets=[drift])
        def announce(summary: dict[str, Any]) -> dict[str, Any]:
            """The drift asset event; its extra names the report, version and alert kinds."""
            get_current_context()["outlet_events"][drift].extra = summary
            return summary

        summary = report()
        alerted(summary) >> announce(summary)  # type: ignore[arg-type]
    return dag


def _doc(workflow: Workflow) -> str:
    policy, limits = workflow.monitor, workflow.monitor.thresholds
    retrain = (
        f"An alert starts `{retrain_dag_id(workflow.name)}` early, at most once per "
        f"{policy.min_hours_between_retrains:g} h."
        if policy.retrain_on_alert
        else "`monitor.retrain_on_alert` is off: alerts do not start a retrain."
    )
    return "\n\n".join(
        [
            f"# {monitor_dag_id(workflow.name)}",
            f"Every `{policy.schedule}` (UTC): one report over the last {policy.window} of "
            f"the prediction log (sampled at {policy.sample_rate:g}), against the "
            "production version's training data. Alerts are rows, webhook events and the "
            f"asset `{drift_asset_uri(workflow.name)}`. {retrain}",
            "| monitor | alert when |\n|---|---|\n"
            f"| input drift (brightness, contrast PSI) | > {limits.input_psi} |\n"
            f"| input sizes or channels not seen in training | > {limits.max_shape_mismatch} |\n"
            f"| feature drift (embedding MMD²) | > {limits.feature_mmd} |\n"
            f"| prediction drift (class-share PSI) | > {limits.prediction_psi} |\n"
            f"| share of top-1 below {policy.confidence_threshold} | "
            f"> {limits.max_low_confidence_share} |\n"
            f"| live accuracy ({limits.min_labelled}+ labels) | < {limits.min_live_accuracy} |",
            "See docs/monitoring.md.",
        ]
    )
