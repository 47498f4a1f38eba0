"""Run the monitors over one window: read it, compare it with its version's reference,
and (for `monitor__<wf>`) store the report, its alerts and their webhook events in one
transaction, so an alert is never announced without its row nor stored unannounced.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.config import Workflow
from modelfleet.monitoring.report import build_report
from modelfleet.monitoring.window import read_window
from modelfleet.registry.monitoring_tables import (
    MonitorAlertRow,
    MonitorReportRow,
    ReferenceStatsRow,
)
from modelfleet.registry.store import webhooks
from modelfleet.registry.store.workflows import ensure_workflow

ALERT_EVENT = "monitor.alert"
_log = logging.getLogger(__name__)


def reference_stats(session: Session, version_id: int | None) -> dict[str, Any] | None:
    """The stored reference of a version (written by monitoring.reference), or None."""
    if version_id is None:
        return None
    return session.scalar(
        sa.select(ReferenceStatsRow.stats).where(ReferenceStatsRow.model_version_id == version_id)
    )


def compute(session: Session, workflow: Workflow, start: datetime, end: datetime) -> dict[str, Any]:
    """The report of `workflow`'s window [start, end), stored nowhere. A version without
    stored reference statistics gets them first (once; see monitoring.reference)."""
    window = read_window(session, workflow.name, start, end, max_rows=workflow.monitor.max_rows)
    reference = reference_stats(session, window.version_id)
    problem = None
    if reference is None and window.version is not None:
        reference, problem = _ensure_reference(workflow.name, window.version)
    report = build_report(window, reference, workflow.monitor)
    if problem is not None:
        report["notes"].append(problem)
    report["model_version_id"] = window.version_id
    return report


def _ensure_reference(workflow: str, version: str) -> tuple[dict[str, Any] | None, str | None]:
    """Compute and store a version's reference (its data restored at its tag, its model
    run: TensorFlow, imported only here); a failure leaves the drift tests out of this
    report, with the reason, rather than the report itself."""
    from modelfleet.monitoring.reference import ensure_reference

    try:
        return ensure_reference(workflow, version), None
    # anything (DVC, the model repo, the SavedModel): the rest of the report still holds
    except Exception as exc:
        _log.warning("reference statistics of %s %s: %s", workflow, version, exc)
        return None, f"no reference statistics for {version}: {type(exc).__name__}: {exc}"


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
