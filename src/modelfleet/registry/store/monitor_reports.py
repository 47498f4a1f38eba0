"""Reading stored monitor reports and alerts (written by modelfleet.monitoring.run), for
the Models UI's Monitoring panel and its Prometheus gauges."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.registry.monitoring_tables import MonitorAlertRow, MonitorReportRow
from modelfleet.registry.tables import WorkflowRow


def recent_reports(session: Session, workflow: str, limit: int = 48) -> list[dict[str, Any]]:
    """The latest `limit` stored reports of `workflow`, oldest first (report JSON)."""
    rows = session.execute(
        sa.select(MonitorReportRow.report)
        .join(WorkflowRow, WorkflowRow.id == MonitorReportRow.workflow_id)
        .where(WorkflowRow.name == workflow)
        .order_by(MonitorReportRow.window_end.desc(), MonitorReportRow.id.desc())
        .limit(limit)
    ).scalars()
    return [dict(r) for r in rows][::-1]


def recent_alerts(session: Session, workflow: str, limit: int = 20) -> list[dict[str, Any]]:
    """The latest `limit` alerts of `workflow`, newest first, with their report's window."""
    rows = session.execute(
        sa.select(MonitorAlertRow, MonitorReportRow.window_end)
        .join(MonitorReportRow, MonitorReportRow.id == MonitorAlertRow.report_id)
        .join(WorkflowRow, WorkflowRow.id == MonitorAlertRow.workflow_id)
        .where(WorkflowRow.name == workflow)
        .order_by(MonitorAlertRow.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "kind": alert.kind,
            "statistic": alert.statistic,
            "threshold": alert.threshold,
            "detail": alert.detail,
            "window_end": window_end,
            "at": alert.created_at,
        }
        for alert, window_end in rows
    ]


def latest_reports(session: Session) -> dict[str, dict[str, Any]]:
    """The latest stored report of every workflow that has one."""
    latest = (
        sa.select(MonitorReportRow.workflow_id, sa.func.max(MonitorReportRow.id).label("id"))
        .group_by(MonitorReportRow.workflow_id)
        .subquery()
    )
    rows = session.execute(
        sa.select(WorkflowRow.name, MonitorReportRow.report)
        .join(latest, latest.c.id == MonitorReportRow.id)
        .join(WorkflowRow, WorkflowRow.id == MonitorReportRow.workflow_id)
    ).all()
    return {name: dict(report) for name, report in rows}


# Where each figure a gauge republishes sits in a stored report's JSON.
FIGURE_PATHS: dict[str, tuple[str, ...]] = {
    "prediction_psi": ("prediction_psi",),
    "confidence_mean": ("confidence", "mean"),
    "low_confidence_share": ("confidence", "low_share"),
    "brightness_mean": ("input", "brightness_mean"),
    "brightness_psi": ("input", "brightness_psi"),
    "contrast_psi": ("input", "contrast_psi"),
    "shape_mismatch": ("input", "shape_mismatch"),
    "feature_mmd2": ("feature", "mmd2"),
    "live_accuracy": ("live_accuracy",),
    "error_rate": ("error_rate",),
}


def figure(report: dict[str, Any], path: tuple[str, ...]) -> float | None:
    """The number at `path` in a report, None where the report has none there."""
    value: Any = report
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
