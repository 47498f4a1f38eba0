"""The month's expectations as built from config (no GX run here; see
tests/integration/test_validation_faults.py for the real thing)."""

from __future__ import annotations

from typing import get_args

import pytest

from modelfleet.config import CheckName, load_fleet
from modelfleet.settings import CHECKOUT
from modelfleet.validation.checks import MonthStats, build_expectations

REFERENCE = MonthStats(month="2026-01", brightness=0.5, contrast=0.02, n=240)


@pytest.fixture(scope="module")
def workflow():
    return load_fleet(CHECKOUT / "workflows.yaml").get("surface_line1")


def checks(expectations) -> list[str]:
    return [e.meta["check"] for e in expectations]


def test_every_check_is_built_with_its_name(workflow):
    built = build_expectations(workflow, "2026-02", ["ab" * 32], REFERENCE)
    assert set(checks(built)) == set(get_args(CheckName))
    # a lower and an upper share bound per class
    assert checks(built).count("class_share") == 2 * len(workflow.classes)


def test_month_checks_look_only_at_this_months_training_rows(workflow):
    built = build_expectations(workflow, "2026-02", [], REFERENCE)
    by_check = {e.meta["check"]: e for e in built}
    assert 'month == "2026-02"' in str(by_check["min_rows"].row_condition)
    assert by_check["labels_known"].row_condition is None  # every file of the window
    assert "decoded == True" in str(by_check["shape"].row_condition)


def test_shape_is_checked_after_preprocessing_any_size_any_convertible_mode(workflow):
    (shape,) = [
        e for e in build_expectations(workflow, "2026-02", [], None) if e.meta["check"] == "shape"
    ]
    assert shape.column == "mode"
    assert {"RGBA", "CMYK", "P", "I;16", "L", "RGB"} <= set(shape.value_set)
    assert shape.meta["input_shape"] == list(workflow.input_shape)


def test_drift_bounds_come_from_the_reference_month_and_are_clamped(workflow):
    built = build_expectations(workflow, "2026-02", [], REFERENCE)
    brightness, contrast = (e for e in built if e.meta["check"].endswith("_drift"))
    assert (brightness.min_value, brightness.max_value) == pytest.approx((0.42, 0.58))
    assert contrast.min_value == 0.0  # 0.02 - 0.08 would be below any possible mean
    assert brightness.meta["reference_month"] == "2026-01"


def test_no_reference_month_means_no_drift_check(workflow):
    built = build_expectations(workflow, "2026-01", [], None)
    assert not [c for c in checks(built) if c.endswith("_drift")]


def test_warn_only_checks_get_warning_severity(workflow):
    from great_expectations.expectations.metadata_types import FailureSeverity

    built = build_expectations(workflow, "2026-02", [], REFERENCE)
    severity = {e.meta["check"]: e.severity for e in built}
    assert severity["contrast_drift"] == FailureSeverity.WARNING
    assert severity["brightness_drift"] == FailureSeverity.CRITICAL


def test_share_bounds_of_zero_and_one_add_no_expectation(workflow):
    loose = workflow.model_copy(
        update={
            "expectations": workflow.expectations.model_copy(
                update={"min_class_share": 0.0, "max_class_share": 1.0}
            )
        }
    )
    assert "class_share" not in checks(build_expectations(loose, "2026-02", [], None))
