"""Great Expectations suites built from a workflow's `expectations:` config.

The suite runs over the month's training manifest (one row per image file) with
GX's own objects: a file data context under `$MODELFLEET_HOME/gx`, a pandas data
source, a whole-dataframe batch definition, a suite, a validation definition and
a checkpoint that also rebuilds the Data Docs.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from modelfleet.config import Workflow
from modelfleet.datasets.manifest import ManifestRow

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@dataclass(frozen=True)
class ValidationOutcome:
    success: bool
    run_id: str
    statistics: dict[str, Any]
    results: list[dict[str, Any]]  # one per expectation: type, column, success, observed
    data_docs: str | None

    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.results if not r["success"]]


def build_expectations(workflow: Workflow, test_sha256: list[str]) -> list[Any]:
    import great_expectations.expectations as gxe

    height, width, channels = workflow.input_shape
    rules = workflow.expectations
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=rules.min_rows),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=list(workflow.classes)),
        gxe.ExpectColumnDistinctValuesToContainSet(
            column="label", value_set=list(workflow.classes)
        ),
        gxe.ExpectColumnValuesToBeInSet(column="decoded", value_set=[True]),
        gxe.ExpectColumnValuesToBeBetween(column="width", min_value=width, max_value=width),
        gxe.ExpectColumnValuesToBeBetween(column="height", min_value=height, max_value=height),
        gxe.ExpectColumnValuesToBeInSet(column="channels", value_set=[channels]),
        gxe.ExpectColumnValuesToBeUnique(column="sha256"),
        gxe.ExpectColumnValuesToNotBeInSet(column="sha256", value_set=test_sha256),
        gxe.ExpectColumnValuesToBeBetween(column="bytes", min_value=1, max_value=rules.max_bytes),
    ]


def validate_manifest(
    workflow: Workflow,
    month: str,
    rows: list[ManifestRow],
    test_sha256: list[str],
    gx_root: Path,
) -> ValidationOutcome:
    """Run the workflow's suite over `rows`; results and Data Docs go to `gx_root/<wf>/`.

    One GX project per workflow: GX rewrites its project file on every run, and the
    fleet validates many workflows at once. A file lock covers the rest (two runs of
    one workflow, e.g. the CLI beside Airflow).
    """
    root = gx_root / workflow.name
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _validate(workflow, month, rows, test_sha256, root)


def _validate(
    workflow: Workflow,
    month: str,
    rows: list[ManifestRow],
    test_sha256: list[str],
    root: Path,
) -> ValidationOutcome:
    import great_expectations as gx
    import pandas as pd
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=str(root))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    name = f"{workflow.name}_manifest"
    try:
        source = context.data_sources.get("manifests")
    except KeyError:
        source = context.data_sources.add_pandas(name="manifests")
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name=name)
    try:
        batch = asset.get_batch_definition("whole_month")
    except KeyError:
        batch = asset.add_batch_definition_whole_dataframe("whole_month")
    suite = context.suites.add_or_update(
        gx.ExpectationSuite(name=name, expectations=build_expectations(workflow, test_sha256))
    )
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=batch, suite=suite)
    )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=name,
            validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs")],
            result_format={"result_format": "COMPLETE"},
        )
    )
    frame = pd.DataFrame([asdict(row) for row in rows])
    run_id = RunIdentifier(run_name=f"{workflow.name}-{month}")
    outcome = checkpoint.run(batch_parameters={"dataframe": frame}, run_id=run_id)
    (validation,) = outcome.run_results.values()
    results = [_describe(r) for r in validation.results]
    docs = context.get_docs_sites_urls()
    return ValidationOutcome(
        success=bool(outcome.success),
        run_id=f"{run_id.run_name}@{run_id.run_time.isoformat()}",
        statistics=dict(validation.statistics),
        results=results,
        data_docs=docs[0]["site_url"] if docs else None,
    )


def _describe(result: Any) -> dict[str, Any]:
    config = result.expectation_config
    detail = result.result or {}
    observed = detail.get("observed_value")
    if observed is None and "partial_unexpected_list" in detail:
        observed = {
            "unexpected_count": detail.get("unexpected_count"),
            "examples": [str(v) for v in detail.get("partial_unexpected_list", [])[:10]],
        }
    if observed is None and "missing_count" in detail:
        observed = {"missing": detail.get("partial_missing_list")}
    return {
        "expectation": config.type,
        "column": config.kwargs.get("column"),
        "success": bool(result.success),
        "observed": observed
        if isinstance(observed, (int, float, str, dict, list))
        else str(observed),
    }
