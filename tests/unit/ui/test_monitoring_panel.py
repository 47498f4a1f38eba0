"""The Monitoring panel's charts and template (ui/monitoring.py, monitoring.html), from
report dicts shaped as modelfleet.monitoring stores them."""

from __future__ import annotations

import re
from typing import Any

from modelfleet.config import Workflow, load_fleet
from modelfleet.settings import CHECKOUT
from modelfleet.ui.app import templates
from modelfleet.ui.monitoring import charts, series_svg


def _workflow() -> Workflow:
    return load_fleet(CHECKOUT / "workflows.yaml").get("digits")


def _report(hour: int, brightness_psi: float, accuracy: float | None = None) -> dict[str, Any]:
    return {
        "window_end": f"2026-03-01T{hour:02d}:00:00+00:00",
        "class_shares": {"0": 0.6, "1": 0.4},
        "confidence": {"mean": 0.9, "low_share": 0.05, "threshold": 0.5},
        "input": {"brightness_mean": 0.3, "brightness_psi": brightness_psi},
        "feature": {"mmd2": 0.01},
        "prediction_psi": 0.02,
        "live_accuracy": accuracy,
        "labelled": 0 if accuracy is None else 25,
        "error_rate": 0.01 * hour,
    }


def test_each_figure_has_a_chart_with_its_threshold():
    reports = [_report(1, 0.01), _report(2, 0.02), _report(3, 1.5, accuracy=0.7)]
    found = {c["key"]: c for c in charts(reports, _workflow())}
    assert set(found) == {
        "class_shares",
        "class_psi",
        "confidence",
        "low_confidence",
        "brightness",
        "brightness_psi",
        "feature_mmd",
        "live_accuracy",
        "error_rate",
    }
    psi = found["brightness_psi"]
    assert psi["threshold"] == _workflow().monitor.thresholds.input_psi
    assert psi["latest"] == 1.5 and psi["breached"]
    assert 'class="threshold"' in psi["svg"] and "threshold 0.25" in psi["svg"]
    assert found["live_accuracy"]["breached"]  # 0.7 below min_live_accuracy 0.8
    assert not found["feature_mmd"]["breached"]
    errors = found["error_rate"]  # 3 % of requests refused or failed, under 5 %
    assert (errors["latest"], errors["threshold"], errors["breached"]) == (0.03, 0.05, False)
    # a line per class, their names in the legend
    assert found["class_shares"]["svg"].count("<polyline") == 2
    assert ">0</text>" in found["class_shares"]["svg"]


def test_a_chart_spans_its_points_and_the_threshold():
    svg = str(series_svg(["a", "b"], {"x": [0.1, 0.2]}, threshold=0.9, title="t"))
    points = re.search(r'points="([^"]+)"', svg)
    assert points is not None and len(points.group(1).split()) == 2
    assert "threshold 0.9" in svg
    assert series_svg([], {}) == ""
    assert series_svg(["a"], {"x": [None]}) == ""  # nothing to draw


def test_the_panel_renders_alerts_and_shadow_agreement():
    reports = [_report(1, 0.01), _report(2, 1.5, accuracy=0.9)]
    monitor = {
        "charts": charts(reports, _workflow()),
        "alerts": [
            {
                "kind": "input_drift",
                "statistic": 1.5,
                "threshold": 0.25,
                "detail": {"figure": "brightness"},
                "window_end": "2026-03-01T02:00:00",
            }
        ],
        "reports": 2,
        "live_accuracy": 0.9,
        "labelled": 25,
        "shadow": {
            "candidate": "v1.1.0",
            "answered": 200,
            "agreed": 190,
            "agreement": 0.95,
            "min_agreement": 0.95,
            "min_requests": 200,
            "per_class": {"0": {"answered": 100, "agreed": 99, "agreement": 0.99}},
        },
    }
    html = (
        templates()
        .env.get_template("monitoring.html")
        .render(monitor=monitor, wf={"workflow": "digits"})
    )
    assert 'id="monitor-brightness_psi"' in html and "ALERT" in html
    assert "input_drift" in html and "brightness" in html
    assert "0.900 over 25 labelled answers" in html
    assert "190 of 200 mirrored requests" in html and "95.0%" in html
    assert "<td>0</td><td>100</td><td>99</td><td>0.990</td>" in html


def test_before_the_first_report_the_panel_says_so():
    monitor = {"charts": [], "alerts": [], "reports": 0, "shadow": None}
    html = (
        templates()
        .env.get_template("monitoring.html")
        .render(monitor=monitor, wf={"workflow": "digits"})
    )
    assert "No monitor report yet" in html and "monitor__digits" in html
    assert "no alerts" in html
