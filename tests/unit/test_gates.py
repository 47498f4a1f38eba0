from __future__ import annotations

from modelfleet.config import GatePolicy
from modelfleet.gates import decide

POLICY = GatePolicy(min_accuracy=0.8, max_accuracy_drop=0.02, min_test_samples=50)


def metrics(accuracy: float, n: int = 300) -> dict:
    return {"accuracy": accuracy, "n": n}


def test_first_version_is_judged_on_absolute_thresholds_only():
    result = decide(POLICY, metrics(0.85), production=None)
    assert result.passed
    assert [c.name for c in result.checks] == ["min_test_samples", "min_accuracy"]


def test_below_absolute_accuracy_fails_with_reason():
    result = decide(POLICY, metrics(0.5), production=None)
    assert not result.passed
    assert result.reasons() == ["accuracy 0.5 < required 0.8"]


def test_too_few_test_samples_fails():
    result = decide(POLICY, metrics(0.99, n=10), production=None)
    assert not result.passed
    assert "test samples 10 < required 50" in result.reasons()


def test_small_drop_against_production_is_tolerated():
    assert decide(POLICY, metrics(0.90), production=metrics(0.915)).passed


def test_larger_drop_against_production_fails_with_observed_and_threshold():
    result = decide(POLICY, metrics(0.88), production=metrics(0.95))
    assert not result.passed
    (check,) = [c for c in result.checks if not c.passed]
    assert check.name == "max_accuracy_drop"
    assert check.observed == 0.88
    assert check.threshold == 0.93
    assert "vs production 0.9500" in check.detail
