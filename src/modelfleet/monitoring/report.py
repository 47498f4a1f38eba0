"""A monitor report: one window's figures against the version's reference, and the
alerts they raise. Pure: a `Window` and a reference in, a JSON-able dict out (the
`monitor_report.report` column and `modelfleet monitor --json` are this dict).

The reference is the `reference_stats.stats` of the window's version, a dict with
    brightness, contrast   lists of floats over the training snapshot (embedding.input_stats)
    class_shares           {label: share} of the version's evaluation predictions
    embedding_sample       [[PROJECTED_DIMS floats], ...] (embedding.projection)
    shapes                 optional [[height, width, channels], ...] seen in training
Missing keys skip their test with a note rather than fail the report.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelfleet.config import MonitorPolicy
from modelfleet.monitoring import statistics as st
from modelfleet.monitoring.window import Window

# Alert kinds (monitor_alert.kind)
INPUT_DRIFT = "input_drift"
FEATURE_DRIFT = "feature_drift"
PREDICTION_DRIFT = "prediction_drift"
CONFIDENCE_DROP = "confidence_drop"
VOLUME = "volume"
ERROR_RATE = "error_rate"
ACCURACY_DROP = "accuracy_drop"


def build_report(
    window: Window, reference: dict[str, Any] | None, policy: MonitorPolicy
) -> dict[str, Any]:
    limits = policy.thresholds
    alerts: list[dict[str, Any]] = []
    notes: list[str] = []

    def alert(kind: str, statistic: float, threshold: float, **detail: Any) -> None:
        alerts.append(
            {"kind": kind, "statistic": statistic, "threshold": threshold, "detail": detail}
        )

    estimated = window.total_logged / policy.sample_rate if policy.sample_rate > 0 else None
    report: dict[str, Any] = {
        "workflow": window.workflow,
        "version": window.version,
        "window_start": window.start.isoformat(),
        "window_end": window.end.isoformat(),
        "n_logged": window.n_logged,
        "n_used": window.n_used,
        "subsampled": window.n_used < window.n_logged,
        "volume": {
            "logged": window.total_logged,
            "estimated": estimated,
            "per_version": window.per_version,
        },
        **_requests(window.requests),
        "labelled": window.labelled,
        "live_accuracy": window.correct / window.labelled if window.labelled else None,
    }
    if limits.min_volume and estimated is not None and estimated < limits.min_volume:
        alert(VOLUME, estimated, limits.min_volume, logged=window.total_logged)
    errors: float | None = report["error_rate"]
    requests = report["requests"]
    if (
        errors is not None
        and requests["total"] >= policy.min_rows
        and errors > limits.max_error_rate
    ):
        alert(
            ERROR_RATE,
            errors,
            limits.max_error_rate,
            requests=requests["total"],
            rejected=requests["rejected"],
            failed=requests["failed"],
        )
    accuracy: float | None = report["live_accuracy"]
    if (
        accuracy is not None
        and window.labelled >= limits.min_labelled
        and accuracy < limits.min_live_accuracy
    ):
        alert(ACCURACY_DROP, accuracy, limits.min_live_accuracy, labelled=window.labelled)

    confidence: dict[str, Any] = {
        "mean": float(window.confidence.mean()) if window.n_used else None,
        "low_share": st.low_share(window.confidence, policy.confidence_threshold),
        "threshold": policy.confidence_threshold,
    }
    live_shares = st.shares(window.predicted)
    report |= {
        "confidence": confidence,
        "class_shares": live_shares,
        "input": {
            "brightness_mean": _mean(window.brightness),
            "contrast_mean": _mean(window.contrast),
        },
    }
    tested = window.n_used >= policy.min_rows
    if not tested:
        notes.append(f"{window.n_used} rows used, fewer than min_rows {policy.min_rows}: no tests")
    elif reference is None:
        notes.append(f"no reference statistics for {window.version}: drift not tested")
    if tested and confidence["low_share"] > limits.max_low_confidence_share:
        alert(
            CONFIDENCE_DROP,
            confidence["low_share"],
            limits.max_low_confidence_share,
            mean=confidence["mean"],
            below=policy.confidence_threshold,
        )
    if tested and reference is not None:
        _drift(window, reference, policy, report, alert, notes)
    report["tested"] = tested
    report["notes"] = notes
    report["alerts"] = alerts
    return report


def _drift(
    window: Window,
    reference: dict[str, Any],
    policy: MonitorPolicy,
    report: dict[str, Any],
    alert: Any,
    notes: list[str],
) -> None:
    limits = policy.thresholds
    for figure, live in (("brightness", window.brightness), ("contrast", window.contrast)):
        if not reference.get(figure):
            notes.append(f"the reference has no {figure}: not tested")
            continue
        value = st.psi(reference[figure], live)
        report["input"][f"{figure}_psi"] = value
        if value > limits.input_psi:
            alert(INPUT_DRIFT, value, limits.input_psi, figure=figure)
    if reference.get("shapes"):
        seen = {tuple(s) for s in reference["shapes"]}
        mismatch = sum(shape not in seen for shape in window.shapes) / window.n_used
        report["input"]["shape_mismatch"] = mismatch
        if mismatch > limits.max_shape_mismatch:
            alert(INPUT_DRIFT, mismatch, limits.max_shape_mismatch, figure="shape")
    sample = np.asarray(reference.get("embedding_sample") or [], dtype=np.float64)
    if len(sample) >= 2 and len(window.embedding) >= 2:
        value = st.mmd2(sample, window.embedding)
        report["feature"] = {"mmd2": value}
        if value > limits.feature_mmd:
            alert(FEATURE_DRIFT, value, limits.feature_mmd, statistic_name="mmd2")
    else:
        notes.append("no embeddings on one side: feature drift not tested")
    if reference.get("class_shares"):
        value = st.share_psi(reference["class_shares"], report["class_shares"])
        report["prediction_psi"] = value
        if value > limits.prediction_psi:
            alert(PREDICTION_DRIFT, value, limits.prediction_psi)
    else:
        notes.append("the reference has no class shares: prediction drift not tested")


def _requests(counted: tuple[int, int, int]) -> dict[str, Any]:
    """The window's inference requests by outcome, and the share not answered."""
    answered, rejected, failed = counted
    total = answered + rejected + failed
    return {
        "requests": {"total": total, "answered": answered, "rejected": rejected, "failed": failed},
        "error_rate": (rejected + failed) / total if total else None,
    }


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if len(values) else None
