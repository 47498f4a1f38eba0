"""The monitors' figures as Prometheus gauges on the endpoint's /metrics.

The figures are computed by `monitor__<wf>` and stored in `monitor_report`; this
collector republishes the latest report of each workflow, and the candidate's shadow
agreement, read from Postgres at scrape time (at most once per `cache_s`, so frequent
scrapes and several workers cost a query or two each interval). The endpoint's /metrics
is the platform's Prometheus face: unauthenticated, beside the request metrics, whereas
the Models UI answers only signed-in Airflow users.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from modelfleet.naming import CANDIDATE, PRODUCTION
from modelfleet.registry import db
from modelfleet.registry.store import monitor_reports, shadow, versions
from modelfleet.serving.metrics import gauge

log = logging.getLogger("modelfleet.serving")
Snapshot = tuple[dict[str, dict[str, Any]], dict[str, tuple[str, shadow.Agreement]]]


def read_snapshot(session: Session) -> Snapshot:
    """The latest report per workflow, and each differing candidate's agreement."""
    reports = monitor_reports.latest_reports(session)
    production = versions.all_aliases(session, PRODUCTION)
    agreements: dict[str, tuple[str, shadow.Agreement]] = {}
    for workflow, candidate in versions.all_aliases(session, CANDIDATE).items():
        current = production.get(workflow)
        if current is not None and current.id == candidate.id:
            continue
        got = shadow.agreement(session, candidate.id)
        if got.answered:
            agreements[workflow] = (candidate.version, got)
    return reports, agreements


def families(snapshot: Snapshot) -> list[GaugeMetricFamily]:
    reports, agreements = snapshot
    figure = gauge(
        "modelfleet_monitor_figure",
        "A figure of the latest monitor report (figure: prediction_psi, confidence_mean, "
        "low_confidence_share, brightness_mean, brightness_psi, contrast_psi, "
        "shape_mismatch, feature_mmd2, live_accuracy, error_rate)",
        "model",
        "version",
        "figure",
    )
    share = gauge(
        "modelfleet_monitor_class_share",
        "Share of each predicted class in the latest monitor report's window",
        "model",
        "class",
    )
    alerts = gauge(
        "modelfleet_monitor_alerts", "Alerts in the latest monitor report (0: none)", "model"
    )
    window = gauge(
        "modelfleet_monitor_window_end_seconds",
        "End of the latest monitor report's window (Unix time)",
        "model",
    )
    agreement = gauge(
        "modelfleet_shadow_agreement",
        "Share of mirrored requests the candidate answered as production did",
        "model",
        "candidate",
    )
    answered = gauge(
        "modelfleet_shadow_answers",
        "Mirrored requests the candidate answered (shadow_answer rows)",
        "model",
        "candidate",
    )
    for model, report in sorted(reports.items()):
        version = str(report.get("version") or "")
        for name, path in monitor_reports.FIGURE_PATHS.items():
            value = monitor_reports.figure(report, path)
            if value is not None:
                figure.add_metric([model, version, name], value)
        for label, value in sorted((report.get("class_shares") or {}).items()):
            share.add_metric([model, str(label)], float(value))
        alerts.add_metric([model], float(len(report.get("alerts") or [])))
        if report.get("window_end"):
            end = datetime.fromisoformat(str(report["window_end"]))
            window.add_metric([model], end.timestamp())
    for model, (candidate, got) in sorted(agreements.items()):
        answered.add_metric([model, candidate], float(got.answered))
        if got.rate is not None:
            agreement.add_metric([model, candidate], got.rate)
    return [figure, share, alerts, window, agreement, answered]


class MonitorCollector(Collector):
    def __init__(self, database_url: str, cache_s: float = 30.0) -> None:
        self.database_url = database_url
        self.cache_s = cache_s
        self._lock = threading.Lock()
        self._read_at = -float("inf")
        self._snapshot: Snapshot = ({}, {})

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            if time.monotonic() - self._read_at >= self.cache_s:
                try:
                    with Session(db.engine(self.database_url)) as session:
                        self._snapshot = read_snapshot(session)
                except Exception as exc:  # Postgres away: the last figures, and say so
                    log.warning("monitor gauges: cannot read the registry (%s)", exc)
                self._read_at = time.monotonic()
            snapshot = self._snapshot
        yield from families(snapshot)
