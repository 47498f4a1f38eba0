"""The evaluation-gate policy: may a candidate replace production?

A pure function over metrics, so it is unit-tested without models. Candidate and
production metrics must come from the same splits scored in the same run: the
frozen test set for the absolute and change thresholds, and this month's holdout
for champion/challenger.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelfleet.config import GatePolicy
from modelfleet.registry.entities import GateCheck

Metrics = Mapping[str, Any]  # one split's metrics (training/metrics.py)


@dataclass(frozen=True)
class GateResult:
    passed: bool
    checks: list[GateCheck]

    def reasons(self) -> list[str]:
        """One line per failed check."""
        return [c.detail for c in self.checks if not c.passed]

    def verdict(self) -> str:
        """PASSED, or REJECTED with how many checks failed."""
        if self.passed:
            return f"PASSED (all {len(self.checks)} checks)"
        failed = sum(not c.passed for c in self.checks)
        return f"REJECTED ({failed} of {len(self.checks)} checks failed)"


# What each check compares the candidate with (the gate's log groups its lines by it).
ABSOLUTE = "absolute"
VS_PRODUCTION = "vs production"
HOLDOUT = "holdout"
_KIND = {"champion_challenger": HOLDOUT}
_ABSOLUTE_CHECKS = ("min_test_samples", "min_accuracy", "min_macro_f1", "min_class_recall")


def kind(check: GateCheck) -> str:
    """ABSOLUTE, VS_PRODUCTION (the frozen test set) or HOLDOUT (this month's holdout)."""
    if check.name in _ABSOLUTE_CHECKS:
        return ABSOLUTE
    return _KIND.get(check.name, VS_PRODUCTION)


def describe(check: GateCheck) -> str:
    """One log line: verdict, name, kind, value and threshold (every check passes at
    value >= threshold), then the check's own words."""
    return (
        f"{'PASS' if check.passed else 'FAIL'} {check.name} ({kind(check)}): "
        f"value {check.observed:.4g}, threshold >= {check.threshold:.4g}; {check.detail}"
    )


def decide(
    policy: GatePolicy,
    candidate: Mapping[str, Metrics],
    production: Mapping[str, Metrics] | None,
) -> GateResult:
    """Judge `candidate` ({"test": ..., "holdout": ...}) against `production`'s.

    The first version of a workflow (no production) is judged on absolute
    thresholds only.
    """
    test = candidate["test"]
    worst_class, worst_recall = min(test["recall"].items(), key=lambda item: item[1])
    checks = [
        _at_least("min_test_samples", test["n"], policy.min_test_samples, "test samples"),
        _at_least("min_accuracy", test["accuracy"], policy.min_accuracy, "accuracy"),
        _at_least("min_macro_f1", test["macro_f1"], policy.min_macro_f1, "macro-F1"),
        _at_least(
            "min_class_recall", worst_recall, policy.min_class_recall, f"recall of {worst_class!r}"
        ),
    ]
    if production is not None:
        checks += _against_production(policy, candidate, production)
    return GateResult(all(c.passed for c in checks), checks)


def _against_production(
    policy: GatePolicy, candidate: Mapping[str, Metrics], production: Mapping[str, Metrics]
) -> list[GateCheck]:
    test, prod = candidate["test"], production["test"]
    shared = [c for c in test["recall"] if c in prod["recall"]]
    drops = {c: prod["recall"][c] - test["recall"][c] for c in shared}
    worst = max(drops, key=drops.__getitem__)
    checks = [
        _no_worse(
            "max_accuracy_drop",
            test["accuracy"],
            prod["accuracy"],
            policy.max_accuracy_drop,
            "accuracy",
        ),
        _no_worse(
            "max_macro_f1_drop",
            test["macro_f1"],
            prod["macro_f1"],
            policy.max_macro_f1_drop,
            "macro-F1",
        ),
        _no_worse(
            "max_class_recall_drop",
            test["recall"][worst],
            prod["recall"][worst],
            policy.max_class_recall_drop,
            f"recall of {worst!r}",
        ),
    ]
    if policy.min_improvement > 0:
        checks.append(
            _at_least(
                "min_improvement",
                test["accuracy"] - prod["accuracy"],
                policy.min_improvement,
                "accuracy gain over production",
            )
        )
    if "holdout" in candidate and "holdout" in production:
        checks.append(
            _no_worse(
                "champion_challenger",
                candidate["holdout"]["accuracy"],
                production["holdout"]["accuracy"],
                policy.max_holdout_loss,
                "accuracy on this month's holdout",
            )
        )
    return checks


def _at_least(name: str, observed: float, threshold: float, what: str) -> GateCheck:
    passed = observed >= threshold
    return GateCheck(
        name=name,
        observed=round(float(observed), 6),
        threshold=float(threshold),
        passed=passed,
        detail=f"{what} {observed:.4g} {'>=' if passed else '<'} required {threshold:.4g}",
    )


def _no_worse(
    name: str, observed: float, production: float, max_drop: float, what: str
) -> GateCheck:
    floor = production - max_drop
    passed = observed >= floor
    return GateCheck(
        name=name,
        observed=round(float(observed), 6),
        threshold=round(float(floor), 6),
        passed=passed,
        detail=(
            f"{what} {observed:.4f} vs production {production:.4f}: "
            f"may drop at most {max_drop}{'' if passed else ' (FAILED)'}"
        ),
    )
