"""Classification metrics in NumPy (no TensorFlow needed to compute or compare)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class recall and the confusion matrix."""
    k = len(class_names)
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
        "recall": {name: float(r) for name, r in zip(class_names, recall, strict=True)},
        "confusion": confusion.tolist(),
        "classes": list(class_names),
    }
