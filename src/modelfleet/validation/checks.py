"""The validation checks of one month, as Great Expectations expectations.

The suite runs over one frame: the training window's manifest (every month the
model will train on) plus this month's holdout, with a `split` column. Checks on
single files (labels, decoding, shape, duplicates, leakage, size) cover every row;
checks on the month as a whole (row count, classes, balance, drift) look only at
this month's new training rows, through GX row conditions.

Each expectation carries its check name in `meta["check"]`; `warn_only` names
become GX `warning` severity and do not fail the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from modelfleet.config import CheckName, Expectations
from modelfleet.datasets.base import ImageTask
from modelfleet.imaging import PREPROCESSABLE_MODES

# Problems of a single file that quarantine can fix by taking the file out.
QUARANTINABLE: frozenset[CheckName] = frozenset({"decodable", "shape", "labels_known"})


class Subject(ImageTask, Protocol):
    """What a suite is built for: a workflow's config, or its params.yaml section."""

    @property
    def expectations(self) -> Expectations: ...


@dataclass(frozen=True)
class MonthStats:
    """Mean brightness and contrast of one month's decodable training images."""

    month: str
    brightness: float
    contrast: float
    n: int


def build_expectations(
    workflow: Subject,
    month: str,
    test_sha256: list[str],
    reference: MonthStats | None,
) -> list[Any]:
    import great_expectations.expectations as gxe
    from great_expectations.expectations.metadata_types import FailureSeverity

    rules = workflow.expectations
    height, width, channels = workflow.input_shape
    classes = list(workflow.classes)
    new_rows = f'split == "train" and month == "{month}"'
    decoded = "decoded == True"
    expectations: list[tuple[CheckName, Any, dict[str, Any]]] = []

    def add(
        check: CheckName,
        expectation: type,
        extra_meta: dict[str, Any] | None = None,
        *,
        where: str | None = None,
        **kwargs: Any,
    ) -> None:
        if where is not None:
            kwargs |= {"row_condition": where, "condition_parser": "pandas"}
        expectations.append((check, expectation(**kwargs), extra_meta or {}))

    add("min_rows", gxe.ExpectTableRowCountToBeBetween, where=new_rows, min_value=rules.min_rows)
    add("labels_known", gxe.ExpectColumnValuesToBeInSet, column="label", value_set=classes)
    add(
        "all_classes_present",
        gxe.ExpectColumnDistinctValuesToContainSet,
        where=new_rows,
        column="label",
        value_set=classes,
    )
    # GX's `mostly` turns a share bound into a map expectation: at least min_share of
    # the rows are this class; at least 1 - max_share of them are not.
    bounds = [
        ("min", rules.min_class_share, gxe.ExpectColumnValuesToBeInSet, rules.min_class_share),
        (
            "max",
            rules.max_class_share,
            gxe.ExpectColumnValuesToNotBeInSet,
            1 - rules.max_class_share,
        ),
    ]
    for name in classes:
        for bound, limit, expectation, mostly in bounds:
            if (bound == "min" and limit > 0) or (bound == "max" and limit < 1):
                add(
                    "class_share",
                    expectation,
                    {"class": name, "bound": bound, "limit": limit},
                    where=new_rows,
                    column="label",
                    value_set=[name],
                    mostly=mostly,
                )
    add("decodable", gxe.ExpectColumnValuesToBeInSet, column="decoded", value_set=[True])
    # The shape check applies after preprocessing: `to_model_input` fits any size to
    # the input's height and width and any of these modes to its channels, so a file
    # has the input shape once it decodes to one of them (the manifest keeps the
    # original's size, mode and bytes).
    add(
        "shape",
        gxe.ExpectColumnValuesToBeInSet,
        {"input_shape": [height, width, channels]},
        where=decoded,
        column="mode",
        value_set=list(PREPROCESSABLE_MODES),
    )
    add("unique_files", gxe.ExpectColumnValuesToBeUnique, column="sha256")
    add(
        "no_test_leakage",
        gxe.ExpectColumnValuesToNotBeInSet,
        column="sha256",
        value_set=test_sha256,
    )
    add(
        "file_size",
        gxe.ExpectColumnValuesToBeBetween,
        column="bytes",
        min_value=rules.min_bytes,
        max_value=rules.max_bytes,
    )
    if reference is not None:
        for check, column, tolerance, value in (
            ("brightness_drift", "brightness", rules.max_brightness_shift, reference.brightness),
            ("contrast_drift", "contrast", rules.max_contrast_shift, reference.contrast),
        ):
            add(
                check,  # type: ignore[arg-type]  # a CheckName literal (the loop's tuple)
                gxe.ExpectColumnMeanToBeBetween,
                {"reference_month": reference.month, "reference": value},
                where=f"{new_rows} and {decoded}",
                column=column,
                min_value=round(max(0.0, value - tolerance), 6),
                max_value=round(min(1.0, value + tolerance), 6),
            )

    built = []
    for check, expectation, extra_meta in expectations:
        expectation.meta = {"check": check, **extra_meta}
        if check in rules.warn_only:
            expectation.severity = FailureSeverity.WARNING
        built.append(expectation)
    return built
