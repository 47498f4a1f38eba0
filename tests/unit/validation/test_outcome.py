"""The validate@<wf> stage hands its outcome to the pipeline as JSON."""

from __future__ import annotations

import json

from modelfleet.validation.checks import MonthStats
from modelfleet.validation.suite import CheckResult, ValidationOutcome


def test_outcome_survives_the_json_round_trip():
    outcome = ValidationOutcome(
        success=False,
        run_id="w-2026-02@t",
        statistics={"evaluated_expectations": 2},
        results=[
            CheckResult("decodable", "expect_column_values_to_be_in_set", "decoded", False, True,
                        {"unexpected_count": 1}, ["train/2026-02/ok/a.png"]),
            CheckResult("contrast_drift", "expect_column_mean_to_be_between", "contrast", False,
                        False, 0.2),
        ],
        data_docs="file:///x.html",
        month_stats=MonthStats("2026-02", 0.5, 0.1, 240),
        reference=None,
    )  # fmt: skip
    back = ValidationOutcome.from_json(json.loads(json.dumps(outcome.to_json())))
    assert back == outcome
    assert back.quarantinable() and back.failed_checks() == {"decodable"}
    assert [w.check for w in back.warnings()] == ["contrast_drift"]
