"""Classification metrics in NumPy (no TensorFlow needed to compute or compare)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

CALIBRATION_BINS = 10


def classification_metrics(
    y_true: np.ndarray, probs: np.ndarray, class_names: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall, calibration error, confusion matrix.

    Args:
        y_true: true class indices, shape [n].
        probs: predicted class probabilities, shape [n, k].
    """
    k = len(class_names)
    y_pred = probs.argmax(axis=1)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    true_pos = np.diag(confusion).astype(float)
    support = confusion.sum(axis=1).astype(float)
    predicted = confusion.sum(axis=0).astype(float)
    recall = np.divide(true_pos, support, out=np.zeros(k), where=support > 0)
    precision = np.divide(true_pos, predicted, out=np.zeros(k), where=predicted > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(k), where=denom > 0)
    n = len(y_true)
    return {
        "n": n,
        "accuracy": float(true_pos.sum() / n) if n else 0.0,
        "macro_f1": float(f1.mean()),
        "ece": expected_calibration_error(y_true, probs),
        "precision": dict(zip(class_names, map(float, precision), strict=True)),
        "recall": dict(zip(class_names, map(float, recall), strict=True)),
        "confusion": confusion.tolist(),
        "classes": list(class_names),
    }


def loss_and_accuracy(y_true: np.ndarray, probs: np.ndarray) -> tuple[float, float]:
    """Mean sparse categorical cross-entropy (probabilities clipped as Keras does) and
    accuracy: what Keras reports per epoch, for a validation curve scored outside `fit`."""
    if len(y_true) == 0:
        return 0.0, 0.0
    picked = np.clip(probs[np.arange(len(y_true)), y_true], 1e-7, 1.0)
    return float(-np.log(picked).mean()), float((probs.argmax(axis=1) == y_true).mean())


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by size."""
    if len(y_true) == 0:
        return 0.0
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    bins = np.minimum((confidence * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    error = 0.0
    for b in np.unique(bins):
        members = bins == b
        error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)
