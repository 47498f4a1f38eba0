from __future__ import annotations

import numpy as np
import pytest

from modelfleet.training.metrics import classification_metrics, expected_calibration_error


def one_hot(indices: list[int], k: int, confidence: float = 1.0) -> np.ndarray:
    probs = np.full((len(indices), k), (1 - confidence) / (k - 1))
    probs[np.arange(len(indices)), indices] = confidence
    return probs


def test_metrics_on_a_known_confusion():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    m = classification_metrics(y_true, one_hot([0, 1, 1, 1, 2, 0], 3), ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["recall"] == {"a": 0.5, "b": 1.0, "c": 0.5}
    assert m["precision"] == {"a": 0.5, "b": pytest.approx(2 / 3), "c": 1.0}
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    # F1 per class: a 0.5, b 0.8, c 0.6667
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)


def test_absent_class_does_not_divide_by_zero():
    m = classification_metrics(np.array([0, 0]), one_hot([0, 0], 2), ["a", "b"])
    assert m["recall"]["b"] == 0.0
    assert m["accuracy"] == 1.0


def test_calibration_error_is_zero_when_confidence_matches_accuracy():
    y = np.array([0, 1, 0, 1])
    assert expected_calibration_error(y, one_hot([0, 1, 0, 1], 2)) == 0.0
    # 60% confident and always right: off by 0.4
    assert expected_calibration_error(y, one_hot([0, 1, 0, 1], 2, 0.6)) == pytest.approx(0.4)
