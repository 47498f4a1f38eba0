"""A report from a synthetic window and reference: no alert without drift; each kind of
drift raises its own alert with its statistic and threshold."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from modelfleet.config import MonitorPolicy
from modelfleet.monitoring.report import build_report
from modelfleet.monitoring.window import Window

END = datetime(2026, 3, 1, tzinfo=UTC)
CLASSES = ["ok", "scratch", "dent"]
SHARES = [0.6, 0.25, 0.15]


def _window(n: int, *, seed: int = 1, brightness: float = 0.5, shift: float = 0.0) -> Window:
    rng = np.random.default_rng(seed)
    return Window(
        "caps",
        END - timedelta(hours=1),
        END,
        version_id=1,
        version="v1.0.0",
        per_version={"v1.0.0": n},
        n_logged=n,
        predicted=list(rng.choice(CLASSES, size=n, p=SHARES)),
        confidence=rng.uniform(0.7, 1.0, n),
        brightness=rng.normal(brightness, 0.05, n),
        contrast=rng.normal(0.2, 0.03, n),
        shapes=[(64, 64, 1)] * n,
        embedding=rng.normal(shift, 1.0, (n, 8)),
    )


@pytest.fixture
def reference() -> dict:
    rng = np.random.default_rng(99)
    return {
        "brightness": rng.normal(0.5, 0.05, 2000).tolist(),
        "contrast": rng.normal(0.2, 0.03, 2000).tolist(),
        "class_shares": dict(zip(CLASSES, SHARES, strict=True)),
        "embedding_sample": rng.normal(0, 1.0, (500, 8)).tolist(),
        "shapes": [[64, 64, 1]],
    }


def _kinds(report: dict) -> list[str]:
    return sorted(a["kind"] for a in report["alerts"])


def test_no_drift_no_alert(reference):
    report = build_report(_window(800), reference, MonitorPolicy())
    assert report["alerts"] == [] and report["tested"]
    assert report["input"]["brightness_psi"] < 0.1 and report["feature"]["mmd2"] < 0.02
    assert report["prediction_psi"] < 0.05 and report["input"]["shape_mismatch"] == 0
    assert report["labelled"] == 0 and report["live_accuracy"] is None


def test_darkened_images_raise_input_drift(reference):
    report = build_report(_window(800, brightness=0.3), reference, MonitorPolicy())
    (alert,) = [a for a in report["alerts"] if a["detail"].get("figure") == "brightness"]
    assert alert["kind"] == "input_drift" and alert["threshold"] == 0.25
    assert alert["statistic"] > 1.0


def test_shifted_embeddings_raise_feature_drift(reference):
    report = build_report(_window(800, shift=1.0), reference, MonitorPolicy())
    assert _kinds(report) == ["feature_drift"]


def test_class_shares_and_confidence(reference):
    window = replace(
        _window(400),
        predicted=["dent"] * 300 + ["ok"] * 100,
        confidence=np.full(400, 0.4),
    )
    report = build_report(window, reference, MonitorPolicy())
    assert _kinds(report) == ["confidence_drop", "prediction_drift"]
    assert report["confidence"]["low_share"] == 1.0


def test_other_shapes_raise_input_drift(reference):
    window = replace(_window(100), shapes=[(32, 32, 3)] * 100)
    (alert,) = build_report(window, reference, MonitorPolicy())["alerts"]
    assert alert["detail"] == {"figure": "shape"} and alert["statistic"] == 1.0


def test_live_accuracy_from_labels(reference):
    window = replace(_window(100), labelled=30, correct=15)
    report = build_report(window, reference, MonitorPolicy())
    assert (report["labelled"], report["live_accuracy"]) == (30, 0.5)
    assert _kinds(report) == ["accuracy_drop"]
    # too few labels to judge: the figure is reported, no alert
    few = build_report(replace(window, labelled=5, correct=1), reference, MonitorPolicy())
    assert few["live_accuracy"] == 0.2 and few["alerts"] == []


def test_volume():
    policy = MonitorPolicy.model_validate({"thresholds": {"min_volume": 5000}})
    report = build_report(_window(100), None, policy)
    assert report["volume"]["estimated"] == 1000.0  # 100 logged at sample_rate 0.1
    assert _kinds(report) == ["volume"]


def test_too_few_rows_or_no_reference_test_nothing(reference):
    small = build_report(_window(10, brightness=0.1), reference, MonitorPolicy())
    assert small["alerts"] == [] and not small["tested"]
    unreferenced = build_report(_window(300, brightness=0.1), None, MonitorPolicy())
    assert unreferenced["alerts"] == []
    assert any("no reference statistics" in note for note in unreferenced["notes"])


def test_error_rate_of_the_counted_requests():
    # 900 answered, 60 refused, 40 failed: 10 % not answered, above max_error_rate 0.05
    window = replace(_window(100), requests=(900, 60, 40))
    report = build_report(window, None, MonitorPolicy())
    assert report["requests"] == {"total": 1000, "answered": 900, "rejected": 60, "failed": 40}
    assert report["error_rate"] == 0.1
    (alert,) = report["alerts"]
    assert (alert["kind"], alert["statistic"], alert["threshold"]) == ("error_rate", 0.1, 0.05)
    assert alert["detail"] == {"requests": 1000, "rejected": 60, "failed": 40}
    # a window of failures alone, nothing logged: still reported and alerted
    failing = build_report(Window("caps", END, END, requests=(0, 0, 50)), None, MonitorPolicy())
    assert failing["error_rate"] == 1.0 and _kinds(failing) == ["error_rate"]
    # below min_rows counted requests: the figure, no alert; none counted: no figure
    few = build_report(replace(window, requests=(10, 0, 5)), None, MonitorPolicy())
    assert few["error_rate"] == 1 / 3 and few["alerts"] == []
    assert build_report(_window(100), None, MonitorPolicy())["error_rate"] is None
