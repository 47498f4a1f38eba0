"""Run a month's checks through Great Expectations and say what they found.

GX's own objects do the work: a file data context per workflow under
`$MODELFLEET_HOME/gx/<wf>/`, a pandas data source, a whole-dataframe batch
definition, a suite, a validation definition and a checkpoint whose action
rebuilds the Data Docs site at `$MODELFLEET_HOME/data-docs/<wf>/`, whose pages
`offline_docs` then points at vendored copies of their CDN assets.
"""

from __future__ import annotations

import fcntl
import math
import os
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from modelfleet.datasets.manifest import ManifestRow, read_manifest
from modelfleet.naming import data_dir
from modelfleet.validation.checks import QUARANTINABLE, MonthStats, Subject, build_expectations
from modelfleet.validation.offline_docs import localize_site

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

SITE = "modelfleet"


@dataclass(frozen=True)
class CheckResult:
    check: str
    expectation: str
    column: str | None
    success: bool
    blocking: bool  # False for warn_only checks
    observed: Any
    files: list[str] = field(default_factory=list)  # "<split>/<path>" of offending rows

    def describe(self) -> str:
        where = f"({self.column})" if self.column else ""
        return f"{self.check}: {self.expectation}{where} observed {self.observed}"


@dataclass(frozen=True)
class ValidationOutcome:
    success: bool  # no blocking check failed
    run_id: str
    statistics: dict[str, Any]
    results: list[CheckResult]
    data_docs: str | None  # this validation's page
    month_stats: MonthStats | None = None
    reference: MonthStats | None = None  # the month drift is measured against

    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.blocking]

    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and not r.blocking]

    def failed_checks(self) -> set[str]:
        return {r.check for r in self.failures()}

    def offending_files(self) -> dict[str, list[str]]:
        """File -> the checks it failed, for every failed check that names files."""
        files: dict[str, list[str]] = defaultdict(list)
        for result in self.failures():
            for name in result.files:
                files[name].append(result.check)
        return dict(files)

    def quarantinable(self) -> bool:
        """Every failure is a bad single file that quarantine can take out."""
        return bool(self.failures()) and self.failed_checks() <= QUARANTINABLE

    def as_records(self) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.results]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ValidationOutcome:
        stats = {
            k: None if data[k] is None else MonthStats(**data[k])
            for k in ("month_stats", "reference")
        }
        return cls(
            success=data["success"],
            run_id=data["run_id"],
            statistics=data["statistics"],
            results=[CheckResult(**r) for r in data["results"]],
            data_docs=data["data_docs"],
            **stats,
        )


def month_stats(month: str, rows: list[ManifestRow]) -> MonthStats | None:
    usable = [r for r in rows if r.decoded and r.month == month]
    if not usable:
        return None
    return MonthStats(
        month=month,
        brightness=sum(r.brightness for r in usable) / len(usable),
        contrast=sum(r.contrast for r in usable) / len(usable),
        n=len(usable),
    )


def validate_snapshot(
    workflow: Subject, month: str, repo: Path, gx_root: Path, docs_root: Path
) -> ValidationOutcome:
    """Validate the snapshot of `month` in the model repository `repo`.

    Drift is measured against the latest earlier month of the training window.
    """
    splits = {
        split: read_manifest(repo / data_dir(workflow.name, split))
        for split in ("train", "holdout")
    }
    test_sha = [r.sha256 for r in read_manifest(repo / data_dir(workflow.name, "test"))]
    earlier = sorted({r.month for r in splits["train"]} - {month})
    reference = month_stats(earlier[-1], splits["train"]) if earlier else None
    outcome = validate_month(workflow, month, splits, test_sha, reference, gx_root, docs_root)
    return replace(outcome, month_stats=month_stats(month, splits["train"]), reference=reference)


def validate_month(
    workflow: Subject,
    month: str,
    splits: dict[str, list[ManifestRow]],
    test_sha256: list[str],
    reference: MonthStats | None,
    gx_root: Path,
    docs_root: Path,
) -> ValidationOutcome:
    """Run the workflow's checks over `splits` ({"train": window rows, "holdout": ...}).

    One GX project per workflow: GX rewrites its project file on every run, and the
    fleet validates many workflows at once. A file lock covers two runs of one
    workflow (the CLI beside Airflow).
    """
    root = gx_root / workflow.name
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _run_checkpoint(
            workflow,
            month,
            splits,
            build_expectations(workflow, month, test_sha256, reference),
            root,
            docs_root / workflow.name,
        )


def _run_checkpoint(
    workflow: Subject,
    month: str,
    splits: dict[str, list[ManifestRow]],
    expectations: list[Any],
    root: Path,
    docs: Path,
) -> ValidationOutcome:
    import great_expectations as gx
    import pandas as pd
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=str(root))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    _use_docs_site(context, docs)
    name = f"{workflow.name}_month"
    try:
        source = context.data_sources.get("manifests")
    except KeyError:
        source = context.data_sources.add_pandas(name="manifests")
    try:
        asset = source.get_asset(name)
    except LookupError:
        # data_sources.get() is typed as any datasource; "manifests" is the pandas one
        asset = source.add_dataframe_asset(name=name)  # type: ignore[attr-defined]
    try:
        batch = asset.get_batch_definition("whole_month")
    except KeyError:
        batch = asset.add_batch_definition_whole_dataframe("whole_month")
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=name, expectations=expectations))
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=batch, suite=suite)
    )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=name,
            validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs")],
            result_format={
                "result_format": "COMPLETE",
                "unexpected_index_column_names": ["split", "path"],
            },
        )
    )
    frame = pd.DataFrame(
        [{"split": split, **asdict(row)} for split, rows in splits.items() for row in rows]
    )
    run_id = RunIdentifier(run_name=f"{workflow.name}-{month}")
    outcome = checkpoint.run(batch_parameters={"dataframe": frame}, run_id=run_id)
    localize_site(docs)  # the pages GX just wrote load from CDNs; point them at local copies
    ((identifier, validation),) = outcome.run_results.items()
    results = [_check_result(r) for r in validation.results]
    pages = context.get_docs_sites_urls(resource_identifier=identifier, site_name=SITE)
    return ValidationOutcome(
        success=all(r.success for r in results if r.blocking),
        run_id=f"{run_id.run_name}@{run_id.run_time.isoformat()}",
        statistics=dict(validation.statistics),
        results=results,
        data_docs=pages[0]["site_url"] if pages else None,
    )


def _use_docs_site(context: Any, docs: Path) -> None:
    """Point the project's one Data Docs site at `docs` (outside the GX project)."""
    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(docs),
        },
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    sites = context.variables.data_docs_sites or {}
    if sites.get(SITE) == site and len(sites) == 1:
        return
    for other in list(sites):
        context.delete_data_docs_site(other)
    context.add_data_docs_site(SITE, site)


def _check_result(result: Any) -> CheckResult:
    from great_expectations.expectations.metadata_types import FailureSeverity

    config = result.expectation_config
    meta = config.meta or {}
    detail = result.result or {}
    observed = detail.get("observed_value")
    if meta.get("bound") in ("min", "max") and "unexpected_percent" in detail:
        # The share bounds ride on `mostly` (see checks.py); report the class's share.
        unexpected = detail["unexpected_percent"] / 100
        share = 1 - unexpected if meta["bound"] == "min" else unexpected
        observed = {"class": meta["class"], "share": round(share, 4), meta["bound"]: meta["limit"]}
    elif observed is None and "unexpected_count" in detail:
        observed = {
            "unexpected_count": detail["unexpected_count"],
            "examples": [_plain(v) for v in detail.get("partial_unexpected_list", [])[:10]],
        }
    elif observed is None and "details" in detail:
        observed = _plain(detail["details"])
    if isinstance(observed, float) and not math.isfinite(observed):
        observed = None
    files = [
        f"{row['split']}/{row['path']}"
        for row in detail.get("unexpected_index_list") or []
        if isinstance(row, dict)
    ]
    return CheckResult(
        check=str(meta.get("check", config.type)),
        expectation=config.type,
        column=config.kwargs.get("column"),
        success=bool(result.success),
        blocking=config.severity == FailureSeverity.CRITICAL,
        observed=_plain(observed),
        files=files,
    )


def _plain(value: Any) -> Any:
    """JSON-able form of an observed value (GX hands back numpy and sets)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if hasattr(value, "item"):
        return _plain(value.item())
    return str(value)
