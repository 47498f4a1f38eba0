"""The evaluation-gate policy: may a candidate replace production?

Pure function over metrics, so it is unit-tested without models. Both metric
sets must come from the same frozen test set in the same run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelfleet.config import GatePolicy
from modelfleet.registry.entities import GateCheck


@dataclass(frozen=True)
class GateResult:
    passed: bool
    checks: list[GateCheck]

    def reasons(self) -> list[str]:
        """One line per failed check."""
        return [c.detail for c in self.checks if not c.passed]


def decide(
    policy: GatePolicy, candidate: dict[str, Any], production: dict[str, Any] | None
) -> GateResult:
    """Judge `candidate` test metrics, against `production`'s when there is one.

    The first version of a workflow (no production) is judged on absolute
    thresholds only.
    """
    checks = [
        _at_least("min_test_samples", candidate["n"], policy.min_test_samples, "test samples"),
        _at_least("min_accuracy", candidate["accuracy"], policy.min_accuracy, "accuracy"),
    ]
    if production is not None:
        floor = production["accuracy"] - policy.max_accuracy_drop
        checks.append(
            GateCheck(
                name="max_accuracy_drop",
                observed=round(candidate["accuracy"], 6),
                threshold=round(floor, 6),
                passed=candidate["accuracy"] >= floor,
                detail=(
                    f"accuracy {candidate['accuracy']:.4f} vs production "
                    f"{production['accuracy']:.4f}: may drop at most {policy.max_accuracy_drop}"
                ),
            )
        )
    return GateResult(all(c.passed for c in checks), checks)


def _at_least(name: str, observed: float, threshold: float, what: str) -> GateCheck:
    passed = observed >= threshold
    return GateCheck(
        name=name,
        observed=round(float(observed), 6),
        threshold=float(threshold),
        passed=passed,
        detail=f"{what} {observed:.4g} {'>=' if passed else '<'} required {threshold:.4g}",
    )
