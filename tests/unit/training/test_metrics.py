from __future__ import annotations

import numpy as np
import pytest

from modelfleet.training.metrics import classification_metrics


def test_metrics_on_a_known_confusion():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0])
    m = classification_metrics(y_true, y_pred, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["recall"] == {"a": 0.5, "b": 1.0, "c": 0.5}
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    # F1 per class: a 0.5, b 0.8, c 0.6667
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)


def test_absent_class_does_not_divide_by_zero():
    m = classification_metrics(np.array([0, 0]), np.array([0, 0]), ["a", "b"])
    assert m["recall"]["b"] == 0.0
    assert m["accuracy"] == 1.0
