"""Steps of `retrain__<wf>`: snapshot, validate, train, evaluate, gate, register,
deploy, smoke. Each returns a small JSON-able dict (an Airflow XCom)."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from typing import Any

from sqlalchemy.orm import Session

from modelfleet import gates, releases
from modelfleet.datasets.deliveries import quarantine_delivered
from modelfleet.datasets.integrity import verify_split
from modelfleet.datasets.manifest import MANIFEST_NAME, read_manifest, sha256_file
from modelfleet.datasets.snapshot import delivered_file, materialise, training_months
from modelfleet.errors import (
    DataError,
    ModelfleetError,
    StaleRelease,
    TamperedData,
    ValidationFailed,
    VersioningError,
)
from modelfleet.naming import (
    DATA_SPLITS,
    PARENT_INFO,
    PARENT_WEIGHTS,
    Version,
    confusion_png,
    curves_png,
    data_dir,
    history_file,
    metrics_file,
    model_file,
    parent_dir,
    serving_dir,
    tag_name,
    train_info_file,
    validation_file,
)
from modelfleet.pipeline.context import RunContext
from modelfleet.registry import db
from modelfleet.registry.entities import ModelVersion
from modelfleet.registry.store import runs, versions
from modelfleet.registry.tables import DatasetVersionRow
from modelfleet.validation.suite import ValidationOutcome
from modelfleet.versioning import semver
from modelfleet.versioning.commands import run
from modelfleet.versioning.repo import ModelRepo


def _session() -> Session:
    return Session(db.engine())


def snapshot(ctx: RunContext) -> dict[str, Any]:
    """Materialise the month's window from the deliveries, `dvc add` it, record the dataset.

    Months whose latest validation failed are left out of the window.
    """
    with _session() as session:
        rejected = runs.rejected_months(session, ctx.workflow_name)
    skipped = sorted(set(training_months(ctx.workflow, ctx.month)) & rejected - {ctx.month})
    if skipped:
        print(f"left out of the window, their data failed validation: {skipped}")
    repo = ctx.workspace(create=True)
    repo.write_rendered(ctx.fleet)
    splits = materialise(
        ctx.workflow, ctx.month, repo.path, ctx.settings.deliveries, frozenset(skipped)
    )
    md5 = repo.add_data(ctx.workflow_name, DATA_SPLITS)
    with _session() as session, session.begin():
        dataset_id = runs.add_dataset_version(
            session,
            workflow=ctx.workflow_name,
            month=ctx.month,
            run=ctx.run,
            train_manifest_sha256=splits["train"].manifest_sha256,
            holdout_manifest_sha256=splits["holdout"].manifest_sha256,
            test_manifest_sha256=splits["test"].manifest_sha256,
            train_dvc_md5=md5["train"],
            n_train=len(splits["train"].rows),
            n_holdout=len(splits["holdout"].rows),
            n_test=len(splits["test"].rows),
            months=sorted({row.month for row in splits["train"].rows}),
        )
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


def _workspace_holds(ctx: RunContext, dataset_version_id: int) -> bool:
    """Do the workspace's manifests still match those recorded for the dataset version?"""
    with _session() as session:
        recorded = _manifest_shas(runs.get_dataset_version(session, dataset_version_id))
    root = ctx.workspace().path
    return all(
        sha256_file(root / data_dir(ctx.workflow_name, split) / MANIFEST_NAME) == sha
        for split, sha in recorded.items()
    )


def _manifest_shas(dataset: DatasetVersionRow) -> dict[str, str]:
    return {
        "train": dataset.train_manifest_sha256,
        "holdout": dataset.holdout_manifest_sha256,
        "test": dataset.test_manifest_sha256,
    }


def _validate_snapshot(
    ctx: RunContext, dataset_version_id: int, quarantined: list[dict[str, str]]
) -> tuple[ValidationOutcome, int]:
    outcome = _run_validate_stage(ctx)
    if outcome.reference is None:
        print("no drift check: no earlier month in the training window")
    statistics = {
        **outcome.statistics,
        "month": None if outcome.month_stats is None else asdict(outcome.month_stats),
        "reference": None if outcome.reference is None else asdict(outcome.reference),
    }
    with _session() as session, session.begin():
        validation_id = runs.add_validation(
            session,
            dataset_version_id=dataset_version_id,
            success=outcome.success,
            gx_run_id=outcome.run_id,
            statistics=statistics,
            results=outcome.as_records(),
            data_docs=outcome.data_docs,
            offending_files=outcome.offending_files(),
            quarantined=quarantined,
            run=ctx.run,
        )
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


def prepare_parent(ctx: RunContext, repo: ModelRepo) -> ModelVersion | None:
    """Put the parent model (production of this or the donor workflow) in models/<wf>/parent/.

    The folder is a DVC dependency of `train@<wf>`: its `parent.json` names the
    version (or null when none is released yet) and the weights lie beside it.
    """
    spec = ctx.fleet.train_spec(ctx.workflow_name)
    folder = repo.path / parent_dir(ctx.workflow_name)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    parent = None
    if spec.parent is not None:
        with _session() as session:
            parent = versions.resolve_alias(session, spec.parent.workflow)
    if parent is not None:
        weights = (
            serving_dir(ctx.settings.serving_root, parent.workflow, Version.parse(parent.version))
            / PARENT_WEIGHTS
        )
        if not weights.exists() or sha256_file(weights) != parent.artifact_sha256:
            raise VersioningError(
                f"weights of parent {parent.tag} at {weights} are missing or do not match the "
                f"registered sha256 {parent.artifact_sha256[:12]}"
            )
        shutil.copyfile(weights, folder / PARENT_WEIGHTS)
    info = {
        "warm_start": spec.warm_start,
        "workflow": None if spec.parent is None else spec.parent.workflow,
        "version": None if parent is None else parent.version,
        "sha256": None if parent is None else parent.artifact_sha256,
    }
    (folder / PARENT_INFO).write_text(json.dumps(info, indent=1))
    repo.add_paths([parent_dir(ctx.workflow_name)])
    if spec.parent is not None:
        print(
            f"parent model: {parent.tag if parent else 'none released yet; training from scratch'}"
        )
    return parent


def train(ctx: RunContext, dataset_version_id: int) -> dict[str, Any]:
    """`dvc repro train@<wf>` in a subprocess; record the training run."""
    repo = ctx.workspace()
    check_validated(ctx, repo, dataset_version_id)
    parent = prepare_parent(ctx, repo)
    repo.repro(f"train@{ctx.workflow_name}", single=True)
    artifact = sha256_file(repo.path / model_file(ctx.workflow_name))
    info = repo.read_json(train_info_file(ctx.workflow_name))
    with _session() as session, session.begin():
        run_id = runs.add_training_run(
            session,
            workflow=ctx.workflow_name,
            dataset_version_id=dataset_version_id,
            architecture=ctx.workflow.architecture,
            params=ctx.fleet.train_spec(ctx.workflow_name).as_params(),
            artifact_sha256=artifact,
            fit_seconds=float(info["fit_seconds"]),
            parent_version_id=None if parent is None else parent.id,
            run=ctx.run,
        )
    print(f"trained in {info['fit_seconds']:.1f}s on {info['n_train']} images; sha256 {artifact}")
    return {"training_run_id": run_id, "artifact_sha256": artifact}


def check_validated(ctx: RunContext, repo: ModelRepo, dataset_version_id: int) -> None:
    """Refuse to train on data that did not pass validation or changed since it did."""
    with _session() as session:
        dataset = runs.get_dataset_version(session, dataset_version_id)
        if runs.passed_validation(session, dataset_version_id) is None:
            raise ValidationFailed(
                f"dataset_version {dataset_version_id} has no passing validation; not training"
            )
        validated = _manifest_shas(dataset)
    for split, sha in validated.items():
        root = repo.path / data_dir(ctx.workflow_name, split)
        if sha256_file(root / MANIFEST_NAME) != sha:
            raise TamperedData(
                f"{root / MANIFEST_NAME} changed after dataset_version {dataset_version_id} "
                "was validated"
            )
        verify_split(root)
    print(f"data of dataset_version {dataset_version_id} matches its validated manifests")


def evaluate(ctx: RunContext, training_run_id: int) -> dict[str, Any]:
    """Score the candidate and the current production model on the same splits."""
    repo = ctx.workspace()
    repo.repro(f"evaluate@{ctx.workflow_name}", single=True)
    candidate = repo.read_json(metrics_file(ctx.workflow_name))
    with _session() as session:
        production = versions.resolve_alias(session, ctx.workflow_name)
        if production is not None and _interface_changed(session, production, training_run_id):
            print(
                f"production {production.version} has another architecture, class set or input "
                "shape: no like-for-like comparison; the gate uses absolute thresholds only"
            )
            production = None
    production_metrics = None
    if production is not None:
        model_dir = serving_dir(
            ctx.settings.serving_root, ctx.workflow_name, Version.parse(production.version)
        )
        result = run(
            [
                "python",
                "-m",
                "modelfleet.training.stage",
                "score",
                ctx.workflow_name,
                "--model",
                str(model_dir),
            ],
            repo.path,
        ).check()
        production_metrics = json.loads(result.stdout.strip().splitlines()[-1])
    scored = [("candidate", candidate, None)]
    if production is not None and production_metrics is not None:
        scored.append(("production", production_metrics, production.id))
    with _session() as session, session.begin():
        for role, metrics, version_id in scored:
            for split in ("test", "holdout"):
                runs.add_evaluation(
                    session,
                    training_run_id=training_run_id,
                    role=role,
                    split=split,
                    metrics=metrics[split],
                    model_version_id=version_id,
                    run=ctx.run,
                )
    summary = {
        "candidate_accuracy": candidate["test"]["accuracy"],
        "production_version": None if production is None else production.version,
        "production_accuracy": None
        if production_metrics is None
        else production_metrics["test"]["accuracy"],
    }
    print(f"evaluation on the frozen test set: {summary}")
    return summary


def _interface_changed(session: Session, production: ModelVersion, training_run_id: int) -> bool:
    def interface(run_id: int) -> tuple[Any, ...]:
        return semver.interface_of(runs.get_training_run(session, run_id).params)

    return interface(production.training_run_id) != interface(training_run_id)


def gate(ctx: RunContext, training_run_id: int) -> bool:
    """Apply the workflow's gate policy; record every check. True means release."""
    with _session() as session, session.begin():
        scored: dict[str, dict[str, Any]] = {}
        for e in runs.evaluations(session, training_run_id):
            scored.setdefault(e.role, {})[e.split] = e.metrics
        result = gates.decide(ctx.workflow.gate, scored["candidate"], scored.get("production"))
        runs.add_gate_decision(
            session,
            training_run_id=training_run_id,
            passed=result.passed,
            checks=result.checks,
            run=ctx.run,
        )
    for check in result.checks:
        print(f"gate {'PASS' if check.passed else 'FAIL'} {check.name}: {check.detail}")
    if not result.passed:
        print("gate rejected the candidate; register and deploy are skipped. Reasons:")
        for reason in result.reasons():
            print(f"  - {reason}")
    return result.passed


def next_version(ctx: RunContext, session: Session, params: dict[str, Any]) -> Version:
    """MAJOR on a new interface, PATCH on the same month again, else MINOR (semver.py).

    `params` are the candidate's recorded training params (not today's config).
    """
    released = []
    for version in versions.list_versions(session, ctx.workflow_name):
        training = runs.get_training_run(session, version.training_run_id)
        month = runs.get_dataset_version(session, training.dataset_version_id).month
        released.append(
            semver.Released(
                Version.parse(version.version), month, semver.interface_of(training.params)
            )
        )
    return semver.next_version(released, semver.interface_of(params), ctx.month)


def register(ctx: RunContext, training_run_id: int) -> dict[str, Any]:
    """Commit dvc.lock and params, create the GTO tag, `dvc push`, record the version."""
    repo = ctx.workspace()
    with repo.locked(), _session() as session, session.begin():
        done = versions.version_of_training_run(session, training_run_id)
        if done is not None:  # a retry after the version was recorded
            print(f"training run {training_run_id} is already {done.tag}")
            return {"version": done.version, "tag": done.tag, "commit": done.repo_commit}
        training = runs.get_training_run(session, training_run_id)
        version = next_version(ctx, session, training.params)
        # A tag without a version row is left by an attempt that failed after tagging;
        # Postgres is authoritative, so the tag goes.
        repo.drop_orphan_tag(ctx.workflow_name, version)
        message = f"{ctx.workflow_name}: retrain on {ctx.month} ({ctx.run.run_id or 'manual'})"
        commit = repo.commit_and_tag(ctx.workflow_name, version, message)
        repo.push()
        # Exported before the candidate alias commits, so the endpoint can load it at once.
        export_for_serving(ctx, repo, str(version))
        versions.add_version(
            session,
            workflow=ctx.workflow_name,
            version=str(version),
            version_int=version.as_int(),
            tag=tag_name(ctx.workflow_name, version),
            training_run_id=training_run_id,
            artifact_sha256=training.artifact_sha256,
            repo_commit=commit,
            artifacts=version_artifacts(ctx.workflow_name),
            run=ctx.run,
        )
        # the newest registered version is the candidate until something newer is
        versions.move_alias(
            session,
            workflow=ctx.workflow_name,
            version=str(version),
            actor=ctx.actor,
            reason=f"registered from {ctx.month}",
            run=ctx.run,
            alias=releases.CANDIDATE,
            forward_only=True,
        )
    releases.mirror_stage(ctx.workflow_name, releases.CANDIDATE)
    print(f"registered {tag_name(ctx.workflow_name, version)} at {commit[:10]} (candidate)")
    return {"version": str(version), "tag": tag_name(ctx.workflow_name, version), "commit": commit}


def version_artifacts(workflow: str) -> dict[str, str]:
    """Where a version's files lie in the model repo at its tag."""
    return {
        "weights": model_file(workflow),
        "metrics": metrics_file(workflow),
        "history": history_file(workflow),
        "curves": curves_png(workflow),
        "confusion": confusion_png(workflow),
        "parent": parent_dir(workflow),
    }


def export_for_serving(ctx: RunContext, repo: ModelRepo, version: str) -> None:
    """Write the SavedModel to the serving root unless it is there (versions are immutable)."""
    target = serving_dir(ctx.settings.serving_root, ctx.workflow_name, Version.parse(version))
    if target.exists():
        return
    run(
        [
            "python",
            "-m",
            "modelfleet.training.stage",
            "export",
            ctx.workflow_name,
            "--version",
            version,
            "--serving-root",
            str(ctx.settings.serving_root),
        ],
        repo.path,
    ).check()


def deploy(ctx: RunContext, version: str) -> dict[str, Any]:
    """Export for serving, move the production alias, mirror it as a GTO stage.

    A release that finishes after a newer one of the same workflow leaves the
    newer one in production (`moved` is then False).
    """
    export_for_serving(ctx, ctx.workspace(), version)
    try:
        previous = releases.set_production(
            ctx.settings,
            ctx.workflow_name,
            version,
            actor=ctx.actor,
            reason=f"approved by {ctx.actor}: {ctx.approval}"
            if ctx.approval
            else f"passed the gate on {ctx.month}",
            run=ctx.run,
            forward_only=True,
        )
    except StaleRelease as exc:
        print(f"not moving production: {exc}")
        return {"version": version, "previous": None, "moved": False}
    print(f"production alias of {ctx.workflow_name}: {previous} -> {version}")
    return {"version": version, "previous": previous, "moved": True}


def smoke(ctx: RunContext, version: str, previous: str | None) -> dict[str, Any]:
    """Send held-out images to the live endpoint; roll back if it misbehaves."""
    from modelfleet.pipeline.smoke import check_live_endpoint

    repo = ctx.workspace()
    expected = repo.read_json(metrics_file(ctx.workflow_name))["holdout"]["accuracy"]
    try:
        report = check_live_endpoint(ctx, repo.path, version, expected)
    except ModelfleetError as exc:
        if previous is not None:
            releases.set_production(
                ctx.settings,
                ctx.workflow_name,
                previous,
                actor=ctx.actor,
                reason=f"automatic rollback: smoke test of {version} failed: {exc}",
                run=ctx.run,
            )
            print(f"rolled back {ctx.workflow_name} to {previous}: smoke test failed: {exc}")
        raise
    print(f"smoke test passed: {report}")
    return report
