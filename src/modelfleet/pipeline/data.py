"""The data steps of `retrain__<wf>`: snapshot the month, validate it, quarantine bad files.

Each step returns a small JSON-able dict (an Airflow XCom). The checks themselves run
in the `validate@<wf>` DVC stage, a subprocess; this module reads its verdict, records
it and decides what happens to the files it names.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from sqlalchemy.orm import Session

from modelfleet.datasets.deliveries import quarantine_delivered
from modelfleet.datasets.integrity import verify_split
from modelfleet.datasets.manifest import MANIFEST_NAME, read_manifest, sha256_file
from modelfleet.datasets.snapshot import delivered_file, materialise, training_months
from modelfleet.errors import DataError, TamperedData, ValidationFailed, VersioningError
from modelfleet.naming import DATA_SPLITS, data_dir, validation_file
from modelfleet.pipeline.context import RunContext
from modelfleet.pipeline.labelled import LABELLED_DIR, add_labelled
from modelfleet.registry import db
from modelfleet.registry.entities import NewDatasetVersion, NewValidation
from modelfleet.registry.store import runs
from modelfleet.validation.suite import ValidationOutcome
from modelfleet.versioning.repo import ModelRepo


def snapshot(ctx: RunContext) -> dict[str, Any]:
    """Materialise the month's window from the deliveries, `dvc add` it, record the dataset.

    Months whose latest validation failed are left out of the window; labelled lake
    images join it (pipeline/labelled.py).
    """
    with Session(db.engine()) as session:
        rejected = runs.rejected_months(session, ctx.workflow_name)
    skipped = sorted(set(training_months(ctx.workflow, ctx.month)) & rejected - {ctx.month})
    if skipped:
        print(f"left out of the window, their data failed validation: {skipped}")
    repo = ctx.workspace(create=True)
    repo.write_rendered(ctx.fleet)
    splits = materialise(
        ctx.workflow, ctx.month, repo.path, ctx.settings.deliveries, frozenset(skipped)
    )
    splits, labelled = add_labelled(ctx, splits)  # copied in: DVC tracks them too
    md5 = repo.add_data(ctx.workflow_name, DATA_SPLITS)
    record = NewDatasetVersion(
        workflow=ctx.workflow_name,
        month=ctx.month,
        train_manifest_sha256=splits["train"].manifest_sha256,
        holdout_manifest_sha256=splits["holdout"].manifest_sha256,
        test_manifest_sha256=splits["test"].manifest_sha256,
        train_dvc_md5=md5["train"],
        n_train=len(splits["train"].rows),
        n_holdout=len(splits["holdout"].rows),
        n_test=len(splits["test"].rows),
        months=sorted({row.month for row in splits["train"].rows}),
        labelled=labelled,
        run=ctx.run,
    )
    with Session(db.engine()) as session, session.begin():
        dataset_id = runs.add_dataset_version(session, record)
    counts = {split: len(s.rows) for split, s in splits.items()}
    print(f"snapshot {ctx.workflow_name} {ctx.month}: {counts}, train md5 {md5['train']}")
    return {"dataset_version_id": dataset_id, **counts}


def validate(ctx: RunContext, dataset_version_id: int) -> dict[str, Any]:
    """Run the month's checks; quarantine bad files if few enough; raise if it fails.

    Returns the dataset version that passed: after a quarantine that is a new
    snapshot without the bad files.
    """
    if not _workspace_holds(ctx, dataset_version_id):  # a retry after a re-snapshot
        dataset_version_id = snapshot(ctx)["dataset_version_id"]
    outcome, validation_id = _validate_snapshot(ctx, dataset_version_id, quarantined=[])
    if not outcome.success and outcome.quarantinable():
        moved = _quarantine_if_few(ctx, outcome)
        if moved:
            dataset_version_id = snapshot(ctx)["dataset_version_id"]
            outcome, validation_id = _validate_snapshot(ctx, dataset_version_id, moved)
    if not outcome.success:
        raise ValidationFailed(report(ctx, outcome))
    return {"dataset_version_id": dataset_version_id, "validation_id": validation_id}


def check_validated(ctx: RunContext, repo: ModelRepo, dataset_version_id: int) -> None:
    """Refuse to train on data that did not pass validation or changed since it did."""
    with Session(db.engine()) as session:
        validated = runs.get_dataset_version(session, dataset_version_id).manifest_shas()
        if runs.passed_validation(session, dataset_version_id) is None:
            raise ValidationFailed(
                f"dataset_version {dataset_version_id} has no passing validation; not training"
            )
    for split, sha in validated.items():
        root = repo.path / data_dir(ctx.workflow_name, split)
        if sha256_file(root / MANIFEST_NAME) != sha:
            raise TamperedData(
                f"{root / MANIFEST_NAME} changed after dataset_version {dataset_version_id} "
                "was validated"
            )
        verify_split(root)
    print(f"data of dataset_version {dataset_version_id} matches its validated manifests")


def report(ctx: RunContext, outcome: ValidationOutcome, files_per_check: int = 10) -> str:
    """The failure message a task log shows: each failed check, observed value, files."""
    lines = [f"{ctx.workflow_name} {ctx.month}: data failed validation; nothing was trained."]
    for failure in outcome.failures():
        lines.append(f"  - {failure.describe()}")
        for name in failure.files[:files_per_check]:
            lines.append(f"      {name}")
        if len(failure.files) > files_per_check:
            lines.append(f"      ... and {len(failure.files) - files_per_check} more")
    lines.append(f"Data Docs: {outcome.data_docs}")
    return "\n".join(lines)


def _workspace_holds(ctx: RunContext, dataset_version_id: int) -> bool:
    """Do the workspace's manifests still match those recorded for the dataset version?"""
    with Session(db.engine()) as session:
        recorded = runs.get_dataset_version(session, dataset_version_id).manifest_shas()
    root = ctx.workspace().path
    return all(
        sha256_file(root / data_dir(ctx.workflow_name, split) / MANIFEST_NAME) == sha
        for split, sha in recorded.items()
    )


def _validate_snapshot(
    ctx: RunContext, dataset_version_id: int, quarantined: list[dict[str, str]]
) -> tuple[ValidationOutcome, int]:
    outcome = _run_validate_stage(ctx)
    if outcome.reference is None:
        print("no drift check: no earlier month in the training window")
    record = NewValidation(
        dataset_version_id=dataset_version_id,
        success=outcome.success,
        gx_run_id=outcome.run_id,
        statistics={
            **outcome.statistics,
            "month": None if outcome.month_stats is None else asdict(outcome.month_stats),
            "reference": None if outcome.reference is None else asdict(outcome.reference),
        },
        results=outcome.as_records(),
        data_docs=outcome.data_docs,
        offending_files=outcome.offending_files(),
        quarantined=quarantined,
        run=ctx.run,
    )
    with Session(db.engine()) as session, session.begin():
        validation_id = runs.add_validation(session, record)
    verdict = "passed" if outcome.success else "FAILED"
    print(f"validation {outcome.run_id} {verdict}: {outcome.statistics}")
    print(f"Data Docs: {outcome.data_docs}")
    for warning in outcome.warnings():
        print(f"warning (does not fail the run): {warning.describe()}")
    return outcome, validation_id


def _run_validate_stage(ctx: RunContext) -> ValidationOutcome:
    """`dvc repro validate@<wf>` in the workspace; its JSON is the whole outcome."""
    workspace = ctx.workspace()
    result_file = workspace.path / validation_file(ctx.workflow_name)
    result_file.unlink(missing_ok=True)  # never read a previous run's result
    result = workspace.repro(f"validate@{ctx.workflow_name}", check=False, single=True)
    if not result_file.exists():
        result.check()  # the stage died before judging: raise with its output
        raise VersioningError(f"validate@{ctx.workflow_name} wrote no {result_file}")
    data = json.loads(result_file.read_text())
    if data["month"] != ctx.month:
        raise DataError(
            f"validate@{ctx.workflow_name} judged month {data['month']}, not {ctx.month}: "
            "the workspace holds another month's snapshot"
        )
    outcome = ValidationOutcome.from_json(data)
    if outcome.success:
        result.check()  # passed, yet DVC failed (e.g. could not record the stage)
    return outcome


def _quarantine_if_few(ctx: RunContext, outcome: ValidationOutcome) -> list[dict[str, str]]:
    """Move the offending files out of their deliveries if they are few enough."""
    bad = outcome.offending_files()
    labelled = sorted(name for name in bad if name.startswith(f"train/{LABELLED_DIR}/"))
    if labelled:  # not a delivery's: nothing to move; the label's image is the problem
        print(
            f"labelled lake images failed validation: {labelled[:10]}; nothing is moved "
            "(set source.include_labelled: false to train without them)"
        )
        return []
    earlier = [
        name
        for name in bad
        if name.startswith("train/") and not name.startswith(f"train/{ctx.month}/")
    ]
    if earlier:
        print(f"bad files in earlier, already validated months: {earlier[:10]}; nothing is moved")
        return []
    delivered = _rows_delivered_this_month(ctx)
    fraction = len(bad) / max(delivered, 1)
    bound = ctx.workflow.expectations.quarantine_ok_fraction
    if fraction > bound:
        print(
            f"{len(bad)} bad file(s) are {fraction:.1%} of the month's {delivered}, above "
            f"quarantine_ok_fraction {bound:.1%}: nothing is moved and the run fails"
        )
        return []
    moved = []
    for name, checks in sorted(bad.items()):
        split, path = name.split("/", 1)
        file_month, file = delivered_file(
            ctx.settings.deliveries, ctx.workflow_name, ctx.month, split, path
        )
        reason = f"failed validation of {ctx.workflow_name} {ctx.month}: {', '.join(checks)}"
        target = quarantine_delivered(
            ctx.settings.quarantine, ctx.workflow_name, file_month, file, reason
        )
        moved.append({"file": name, "reason": reason, "moved_to": str(target)})
        print(f"quarantined {name} -> {target} ({', '.join(checks)})")
    return moved


def _rows_delivered_this_month(ctx: RunContext) -> int:
    repo = ctx.workspace()
    train = read_manifest(repo.path / data_dir(ctx.workflow_name, "train"))
    holdout = read_manifest(repo.path / data_dir(ctx.workflow_name, "holdout"))
    return sum(r.month == ctx.month for r in train) + len(holdout)
