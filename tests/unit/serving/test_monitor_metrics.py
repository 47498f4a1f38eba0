"""The monitors' gauges (serving/monitor_metrics.py) from a stored report's JSON."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from modelfleet.registry.store.shadow import Agreement
from modelfleet.serving.monitor_metrics import Snapshot, families

REPORT = {
    "version": "v1.2.0",
    "window_end": "2026-03-01T02:00:00+00:00",
    "class_shares": {"0": 0.6, "1": 0.4},
    "confidence": {"mean": 0.9, "low_share": 0.05},
    "input": {"brightness_mean": 0.3, "brightness_psi": 1.5},
    "feature": {"mmd2": 0.01},
    "prediction_psi": 0.02,
    "live_accuracy": None,
    "error_rate": 0.02,
    "alerts": [{"kind": "input_drift"}],
}


class _Fixed(Collector):
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        yield from families(self.snapshot)


def _scrape(snapshot: Snapshot) -> str:
    registry = CollectorRegistry()
    registry.register(_Fixed(snapshot))
    return generate_latest(registry).decode()


def test_the_latest_report_and_shadow_agreement_are_gauges():
    agreement = Agreement(answered=200, agreed=190, per_class={"0": (200, 190)})
    text = _scrape(({"digits": REPORT}, {"digits": ("v1.3.0", agreement)}))
    assert (
        'modelfleet_monitor_figure{figure="brightness_psi",model="digits",version="v1.2.0"} 1.5'
        in text
    )
    assert 'figure="live_accuracy"' not in text  # no labels yet: no gauge, not 0
    assert 'figure="error_rate",model="digits",version="v1.2.0"} 0.02' in text
    assert 'modelfleet_monitor_class_share{class="0",model="digits"} 0.6' in text
    assert 'modelfleet_monitor_alerts{model="digits"} 1.0' in text
    assert 'modelfleet_shadow_agreement{candidate="v1.3.0",model="digits"} 0.95' in text
    assert 'modelfleet_shadow_answers{candidate="v1.3.0",model="digits"} 200.0' in text
    assert "modelfleet_monitor_window_end_seconds" in text


def test_without_reports_there_are_no_samples():
    text = _scrape(({}, {}))
    assert "modelfleet_monitor_figure{" not in text
