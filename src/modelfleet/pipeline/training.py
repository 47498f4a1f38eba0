"""The training steps of `retrain__<wf>`: train the candidate, evaluate it beside production.

Each step returns a small JSON-able dict (an Airflow XCom). TensorFlow runs only in
subprocesses: the DVC stages `train@<wf>` and `evaluate@<wf>`, and
`modelfleet.training.stage score` for the production model.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

from sqlalchemy.orm import Session

from modelfleet.datasets.manifest import sha256_file
from modelfleet.errors import VersioningError
from modelfleet.naming import (
    PARENT_INFO,
    PARENT_WEIGHTS,
    Version,
    metrics_file,
    model_file,
    parent_dir,
    serving_dir,
    train_info_file,
)
from modelfleet.pipeline.context import RunContext
from modelfleet.pipeline.data import check_validated
from modelfleet.registry import db
from modelfleet.registry.entities import ModelVersion, NewEvaluation, NewTrainingRun
from modelfleet.registry.store import runs, versions
from modelfleet.versioning import semver
from modelfleet.versioning.commands import run
from modelfleet.versioning.repo import ModelRepo


def train(ctx: RunContext, dataset_version_id: int) -> dict[str, Any]:
    """`dvc repro train@<wf>` in a subprocess; record the training run."""
    repo = ctx.workspace()
    check_validated(ctx, repo, dataset_version_id)
    parent = prepare_parent(ctx, repo)
    repo.repro(f"train@{ctx.workflow_name}", single=True)
    artifact = sha256_file(repo.path / model_file(ctx.workflow_name))
    info = repo.read_json(train_info_file(ctx.workflow_name))
    record = NewTrainingRun(
        workflow=ctx.workflow_name,
        dataset_version_id=dataset_version_id,
        architecture=ctx.workflow.architecture,
        params=ctx.fleet.train_spec(ctx.workflow_name).as_params(),
        artifact_sha256=artifact,
        fit_seconds=float(info["fit_seconds"]),
        parent_version_id=None if parent is None else parent.id,
        run=ctx.run,
    )
    with Session(db.engine()) as session, session.begin():
        run_id = runs.add_training_run(session, record)
    print(f"trained in {info['fit_seconds']:.1f}s on {info['n_train']} images; sha256 {artifact}")
    return {"training_run_id": run_id, "artifact_sha256": artifact}


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
        with Session(db.engine()) as session:
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


def evaluate(ctx: RunContext, training_run_id: int) -> dict[str, Any]:
    """Score the candidate and the current production model on the same splits."""
    repo = ctx.workspace()
    repo.repro(f"evaluate@{ctx.workflow_name}", single=True)
    candidate = repo.read_json(metrics_file(ctx.workflow_name))
    production = _comparable_production(ctx, training_run_id)
    production_metrics = None if production is None else _score_production(ctx, repo, production)
    scored: list[tuple[str, dict[str, Any], int | None]] = [("candidate", candidate, None)]
    if production is not None and production_metrics is not None:
        scored.append(("production", production_metrics, production.id))
    with Session(db.engine()) as session, session.begin():
        for role, metrics, version_id in scored:
            for split in ("test", "holdout"):
                runs.add_evaluation(
                    session,
                    NewEvaluation(
                        training_run_id=training_run_id,
                        role=role,
                        split=split,
                        metrics=metrics[split],
                        model_version_id=version_id,
                        run=ctx.run,
                    ),
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


def _comparable_production(ctx: RunContext, training_run_id: int) -> ModelVersion | None:
    """Production, if the candidate can be compared with it like for like."""
    with Session(db.engine()) as session:
        production = versions.resolve_alias(session, ctx.workflow_name)
        if production is None:
            return None

        def interface(run_id: int) -> tuple[Any, ...]:
            return semver.interface_of(runs.get_training_run(session, run_id).params)

        if interface(production.training_run_id) != interface(training_run_id):
            print(
                f"production {production.version} has another architecture, class set or input "
                "shape: no like-for-like comparison; the gate uses absolute thresholds only"
            )
            return None
    return production


def _score_production(ctx: RunContext, repo: ModelRepo, production: ModelVersion) -> dict[str, Any]:
    """Production's metrics on this run's splits, scored in a subprocess (TensorFlow)."""
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
    return json.loads(result.stdout.strip().splitlines()[-1])
