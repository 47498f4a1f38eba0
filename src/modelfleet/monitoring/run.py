"""Run the monitors over one window: read it, compare it with its version's reference,
and (for `monitor__<wf>`) store the report, its alerts and their webhook events in one
transaction, so an alert is never announced without its row nor stored unannounced.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from modelfleet.config import Workflow
from modelfleet.monitoring.compute import compute_report
from modelfleet.registry.monitoring_tables import MonitorAlertRow, MonitorReportRow
from modelfleet.registry.reader import session_query
from modelfleet.registry.store import webhooks
from modelfleet.registry.store.workflows import ensure_workflow

ALERT_EVENT = "monitor.alert"


def compute(session: Session, workflow: Workflow, start: datetime, end: datetime) -> dict[str, Any]:
    """The report of `workflow`'s window [start, end), read in `session`, stored nowhere
    (monitoring.compute; `modelfleet monitor` calls it over a bare connection)."""
    return compute_report(session_query(session), workflow, start, end)


def store(
    session: Session, workflow: Workflow, report: dict[str, Any], *, dag_id: str, run_id: str
) -> int:
    """Add the report row, one alert row per alert and, where the workflow has a webhook,
    one outbox event per alert, in the caller's transaction; returns the report's id."""
    workflow_id = ensure_workflow(session, workflow.name)
    row = MonitorReportRow(
        workflow_id=workflow_id,
        model_version_id=report["model_version_id"],
        window_start=datetime.fromisoformat(report["window_start"]),
        window_end=datetime.fromisoformat(report["window_end"]),
        n_logged=report["n_logged"],
        n_used=report["n_used"],
        report=report,
        dag_id=dag_id,
        run_id=run_id,
    )
    session.add(row)
    session.flush()
    for alert in report["alerts"]:
        session.add(MonitorAlertRow(workflow_id=workflow_id, report_id=row.id, **alert))
    url = workflow.monitor.webhook or workflow.ingest.webhook
    if url and report["alerts"]:
        events = [_event(workflow.name, report, alert, row.id) for alert in report["alerts"]]
        webhooks.enqueue(session, workflow.name, url, events)
    return row.id


def _event(
    workflow: str, report: dict[str, Any], alert: dict[str, Any], report_id: int
) -> dict[str, Any]:
    return {
        "event": ALERT_EVENT,
        "workflow": workflow,
        "version": report["version"],
        "report_id": report_id,
        "window_start": report["window_start"],
        "window_end": report["window_end"],
        **alert,
    }
