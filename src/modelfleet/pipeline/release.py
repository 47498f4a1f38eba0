"""The release steps of `retrain__<wf>`: gate, register, deploy and smoke.

Each step returns a small result (an Airflow XCom). Postgres is authoritative for
versions and aliases; the git model repository (GTO tags and stages) mirrors it.
`modelfleet approve` releases a rejected candidate through the same register,
deploy and smoke.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from modelfleet import gates, releases
from modelfleet.errors import ModelfleetError, StaleRelease
from modelfleet.naming import (
    CANDIDATE,
    Version,
    confusion_png,
    curves_png,
    history_file,
    metrics_file,
    model_file,
    parent_dir,
    serving_dir,
    tag_name,
)
from modelfleet.pipeline.context import RunContext
from modelfleet.pipeline.smoke import check_live_endpoint
from modelfleet.registry import db
from modelfleet.registry.entities import NewGateDecision, NewVersion
from modelfleet.registry.store import runs, versions
from modelfleet.training import export
from modelfleet.versioning import semver
from modelfleet.versioning.commands import run
from modelfleet.versioning.repo import ModelRepo

# Records reach the Airflow task log's main group (gate's docstring).
log = logging.getLogger(__name__)
STAGED_PREFIX = ".staged-run"  # + the training run id: an export before its version is known
STALE_STAGED_S = 24 * 3600.0


def gate(ctx: RunContext, training_run_id: int) -> bool:
    """Apply the workflow's gate policy; record every check. True means release.

    Every check, its value and threshold, and the verdict naming the month go to the
    task log through `log` while the task runs. Printed lines reach Airflow on the
    task's stdout, a stream apart from its log records; those still unread when the
    task returns were filed under the collapsed "Post Execute" group.
    """
    with Session(db.engine()) as session, session.begin():
        scored = runs.scored_metrics(session, training_run_id)
        production = scored.get("production")
        result = gates.decide(ctx.workflow.gate, scored["candidate"], production)
        runs.add_gate_decision(
            session,
            NewGateDecision(
                training_run_id=training_run_id,
                passed=result.passed,
                checks=result.checks,
                run=ctx.run,
            ),
        )
    log.info(
        "gate of %s for %s, training run %s: %s",
        ctx.workflow_name,
        ctx.month,
        training_run_id,
        "absolute thresholds, then the comparisons with production and its holdout"
        if production is not None
        else "absolute thresholds only (no version in production yet)",
    )
    for check in result.checks:
        log.info("gate %s", gates.describe(check))
    approval = ctx.workflow.release.approval
    if result.passed:
        after = "a person's approval, then register" if approval == "required" else "register"
        log.info(
            "gate verdict for %s %s: %s; %s, deploy and smoke follow",
            ctx.workflow_name,
            ctx.month,
            result.verdict(),
            after,
        )
        return True
    log.warning(
        "gate verdict for %s %s: %s; %s. Reasons:",
        ctx.workflow_name,
        ctx.month,
        result.verdict(),
        "a person may still release it in the approval step"
        if approval == "on_reject"
        else "register, deploy and smoke are skipped, production stays",
    )
    for reason in result.reasons():
        log.warning("  - %s", reason)
    return False


def next_version(ctx: RunContext, session: Session, params: dict[str, Any]) -> Version:
    """MAJOR on a new interface, PATCH on the same month again, else MINOR (semver.py).

    `params` are the candidate's recorded training params (not today's config).
    """
    released = [
        semver.Released(Version.parse(r.version), r.month, semver.interface_of(r.params))
        for r in versions.released_versions(session, ctx.workflow_name)
    ]
    return semver.next_version(released, semver.interface_of(params), ctx.month)


def register(ctx: RunContext, training_run_id: int) -> dict[str, Any]:
    """`dvc push`, then under the repository lock: commit dvc.lock and params, create the
    GTO tag, `main` takes the version, record it. The remote has the files before any
    tag or row points at them."""
    with Session(db.engine()) as session:
        recorded = _recorded(session, training_run_id)
    if recorded is not None:  # a retry after the version was recorded: nothing to redo
        return recorded
    repo = ctx.workspace()
    # The slow parts need no lock: the push, and the SavedModel, named at publish.
    repo.push_workflow(ctx.workflow_name)
    staged = stage_export(ctx, repo, training_run_id)
    asked = time.monotonic()
    with repo.locked(), Session(db.engine()) as session, session.begin():
        locked = time.monotonic()
        recorded = _recorded(session, training_run_id)
        if recorded is not None:  # recorded while this attempt waited for the lock
            shutil.rmtree(staged, ignore_errors=True)
            return recorded
        training = runs.get_training_run(session, training_run_id)
        version = next_version(ctx, session, training.params)
        # A tag without a version row is left by an attempt that failed after tagging;
        # Postgres is authoritative, so the tag goes.
        repo.drop_orphan_tag(ctx.workflow_name, version)
        message = f"{ctx.workflow_name}: retrain on {ctx.month} ({ctx.run.run_id or 'manual'})"
        commit = repo.commit_and_tag(ctx.workflow_name, version, message)
        repo.root.publish(ctx.workflow_name, commit)
        # In place before the candidate alias commits, so the endpoint can load it at once.
        publish_export(ctx, staged, str(version))
        versions.add_version(
            session,
            NewVersion(
                workflow=ctx.workflow_name,
                version=str(version),
                version_int=version.as_int(),
                tag=tag_name(ctx.workflow_name, version),
                training_run_id=training_run_id,
                artifact_sha256=training.artifact_sha256,
                repo_commit=commit,
                artifacts=version_artifacts(ctx.workflow_name),
                run=ctx.run,
            ),
        )
        # the newest registered version is the candidate until something newer is
        versions.move_alias(
            session,
            workflow=ctx.workflow_name,
            version=str(version),
            actor=ctx.actor,
            reason=f"registered from {ctx.month}",
            run=ctx.run,
            alias=CANDIDATE,
            forward_only=True,
        )
    # Registrations of the whole fleet queue on this lock: worth seeing in the task log.
    log.info(
        "repository lock: waited %.1f s, held %.1f s", locked - asked, time.monotonic() - locked
    )
    releases.mirror_stage(ctx.workflow_name, CANDIDATE)
    print(f"registered {tag_name(ctx.workflow_name, version)} at {commit[:10]} (candidate)")
    return {"version": str(version), "tag": tag_name(ctx.workflow_name, version), "commit": commit}


def _recorded(session: Session, training_run_id: int) -> dict[str, Any] | None:
    """Register's result for a training run whose version is recorded already."""
    done = versions.version_of_training_run(session, training_run_id)
    if done is None:
        return None
    print(f"training run {training_run_id} is already {done.tag}")
    return {"version": done.version, "tag": done.tag, "commit": done.repo_commit}


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


def stage_export(ctx: RunContext, repo: ModelRepo, training_run_id: int) -> Path:
    """The training run's SavedModel, written beside the versions (a dot name, which no
    server loads) before its version is known; a retry finds it there."""
    staged = ctx.settings.serving_root / ctx.workflow_name / f"{STAGED_PREFIX}{training_run_id}"
    drop_stale_staged(staged.parent, keep=staged)
    command = ["python", "-m", "modelfleet.training.stage", "export", ctx.workflow_name]
    run([*command, "--staged", str(staged)], repo.path).check()
    return staged


def drop_stale_staged(folder: Path, *, keep: Path, older_than_s: float = STALE_STAGED_S) -> None:
    """Remove the staged exports of registrations that failed for good: Airflow retries
    within minutes, so one untouched for `older_than_s` waits for nobody."""
    cutoff = time.time() - older_than_s
    for old in folder.glob(f"{STAGED_PREFIX}*"):
        with contextlib.suppress(FileNotFoundError):  # published or removed meanwhile
            if old != keep and old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)


def publish_export(ctx: RunContext, staged: Path, version: str) -> None:
    """Rename the staged export to its version's place, unless an earlier attempt did
    (versions are immutable; the same training run made both)."""
    target = serving_dir(ctx.settings.serving_root, ctx.workflow_name, Version.parse(version))
    if target.exists():
        shutil.rmtree(staged, ignore_errors=True)
        return
    export.publish(staged, version, ctx.settings.serving_root)


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
