"""The gate passes or fails for each threshold kind (table-driven)."""

from __future__ import annotations

import pytest

from modelfleet.config import GatePolicy
from modelfleet.gates import ABSOLUTE, HOLDOUT, VS_PRODUCTION, decide, describe, kind

POLICY = GatePolicy(
    min_accuracy=0.8,
    min_macro_f1=0.75,
    min_class_recall=0.5,
    min_test_samples=50,
    max_accuracy_drop=0.02,
    max_macro_f1_drop=0.03,
    max_class_recall_drop=0.1,
    max_holdout_loss=0.05,
)


def scores(
    accuracy: float = 0.9,
    macro_f1: float = 0.9,
    recall: tuple[float, float] = (0.9, 0.9),
    n: int = 300,
    holdout: float = 0.9,
) -> dict:
    test = {"n": n, "accuracy": accuracy, "macro_f1": macro_f1,
            "recall": {"ok": recall[0], "crack": recall[1]}}  # fmt: skip
    return {"test": test, "holdout": {"n": 60, "accuracy": holdout}}


PRODUCTION = scores()

# (case, policy changes, candidate, production, the one check expected to fail or None)
CASES = [
    ("first version, good", {}, scores(), None, None),
    ("first version, too few test samples", {}, scores(n=10), None, "min_test_samples"),
    ("first version, low accuracy", {}, scores(accuracy=0.7), None, "min_accuracy"),
    ("first version, low macro-F1", {}, scores(macro_f1=0.7), None, "min_macro_f1"),
    ("first version, one class unseen", {}, scores(recall=(0.99, 0.4)), None, "min_class_recall"),
    ("first version, holdout ignored", {}, scores(holdout=0.1), None, None),
    ("small accuracy drop tolerated", {}, scores(accuracy=0.885), PRODUCTION, None),
    ("accuracy drop too large", {}, scores(accuracy=0.87), PRODUCTION, "max_accuracy_drop"),
    ("macro-F1 drop too large", {}, scores(macro_f1=0.85), PRODUCTION, "max_macro_f1_drop"),
    ("one class's recall drops", {}, scores(recall=(0.95, 0.75)), PRODUCTION,
     "max_class_recall_drop"),
    ("loses on fresh data", {}, scores(holdout=0.8), PRODUCTION, "champion_challenger"),
    ("within holdout tolerance", {}, scores(holdout=0.86), PRODUCTION, None),
    ("required improvement missing", {"min_improvement": 0.01}, scores(accuracy=0.905),
     PRODUCTION, "min_improvement"),
    ("required improvement met", {"min_improvement": 0.01}, scores(accuracy=0.92),
     PRODUCTION, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "candidate", "production", "failing"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_threshold_kind(changes, candidate, production, failing):
    result = decide(POLICY.model_copy(update=changes), candidate, production)
    failed = [c.name for c in result.checks if not c.passed]
    assert failed == ([] if failing is None else [failing])
    assert result.passed is (failing is None)


def test_first_version_is_judged_on_absolute_thresholds_only():
    result = decide(POLICY, scores(), production=None)
    assert [c.name for c in result.checks] == [
        "min_test_samples",
        "min_accuracy",
        "min_macro_f1",
        "min_class_recall",
    ]


def test_failed_check_carries_observed_threshold_and_a_readable_reason():
    result = decide(POLICY, scores(accuracy=0.88), production=scores(accuracy=0.95))
    (check,) = [c for c in result.checks if not c.passed]
    assert (check.name, check.observed, check.threshold) == ("max_accuracy_drop", 0.88, 0.93)
    assert result.reasons() == [
        "accuracy 0.8800 vs production 0.9500: may drop at most 0.02 (FAILED)"
    ]


def test_worst_class_is_named():
    result = decide(POLICY, scores(recall=(0.99, 0.3)), production=None)
    assert "recall of 'crack' 0.3 < required 0.5" in result.reasons()


def test_each_check_is_described_with_its_kind_value_and_threshold():
    result = decide(POLICY, scores(accuracy=0.87, holdout=0.8), production=PRODUCTION)
    lines = {c.name: describe(c) for c in result.checks}
    assert lines["min_accuracy"].startswith("PASS min_accuracy (absolute): value 0.87, ")
    assert "threshold >= 0.8;" in lines["min_accuracy"]
    assert lines["max_accuracy_drop"].startswith(
        "FAIL max_accuracy_drop (vs production): value 0.87, threshold >= 0.88;"
    )
    assert lines["champion_challenger"].startswith(
        "FAIL champion_challenger (holdout): value 0.8, threshold >= 0.85;"
    )
    assert {kind(c) for c in result.checks} == {ABSOLUTE, VS_PRODUCTION, HOLDOUT}


def test_verdict_counts_the_failed_checks():
    assert decide(POLICY, scores(), production=None).verdict() == "PASSED (all 4 checks)"
    rejected = decide(POLICY, scores(accuracy=0.7, holdout=0.8), production=PRODUCTION)
    assert rejected.verdict() == "REJECTED (3 of 8 checks failed)"
