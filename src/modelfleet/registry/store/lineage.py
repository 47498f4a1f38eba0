"""The lineage chain: prediction -> version -> training run -> dataset -> validation."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.errors import NotFound
from modelfleet.registry.store.labels import label_history
from modelfleet.registry.store.predictions import find_predictions
from modelfleet.registry.store.versions import get_version, get_version_by_id
from modelfleet.registry.tables import (
    DatasetVersionRow,
    EvaluationRow,
    GateDecisionRow,
    ModelVersionRow,
    TrainingRunRow,
    ValidationRow,
    WorkflowRow,
)


def _chain(
    session: Session, workflow: str, version: str
) -> tuple[Any, TrainingRunRow, DatasetVersionRow, ValidationRow | None]:
    """A version, the run that trained it, its dataset and the dataset's latest validation."""
    mv = get_version(session, workflow, version)
    run = session.get(TrainingRunRow, mv.training_run_id)
    assert run is not None  # FK
    dataset = session.get(DatasetVersionRow, run.dataset_version_id)
    assert dataset is not None  # FK
    validation = session.execute(
        sa.select(ValidationRow)
        .where(ValidationRow.dataset_version_id == dataset.id)
        .order_by(ValidationRow.id.desc())
    ).scalar()
    return mv, run, dataset, validation


def version_lineage(session: Session, workflow: str, version: str) -> dict[str, Any]:
    """Everything that made `workflow@version`, as nested plain data."""
    mv, run, dataset, validation = _chain(session, workflow, version)
    gate = session.execute(
        sa.select(GateDecisionRow)
        .where(GateDecisionRow.training_run_id == run.id)
        .order_by(GateDecisionRow.id.desc())
    ).scalar()
    candidate_test = session.execute(
        sa.select(EvaluationRow.metrics).where(
            EvaluationRow.training_run_id == run.id,
            EvaluationRow.role == "candidate",
            EvaluationRow.split == "test",
        )
    ).scalar()
    parent = (
        None if run.parent_version_id is None else get_version_by_id(session, run.parent_version_id)
    )
    return {
        "model_version": {
            "workflow": workflow,
            "version": mv.version,
            "tag": mv.tag,
            "artifact_sha256": mv.artifact_sha256,
            "repo_commit": mv.repo_commit,
            "artifacts": mv.artifacts,
            "created_at": mv.created_at.isoformat(),
        },
        "training_run": {
            "id": run.id,
            "dag_id": run.dag_id,
            "run_id": run.run_id,
            "code_sha": run.code_sha,
            "architecture": run.architecture,
            "params": run.params,
            "fit_seconds": round(run.fit_seconds, 2),
            "parent": None if parent is None else parent.tag,
        },
        "evaluation": _short_metrics(candidate_test),
        "gate_decision": None if gate is None else {"passed": gate.passed, "checks": gate.checks},
        "dataset_version": {
            "id": dataset.id,
            "month": dataset.month,
            "months": dataset.months,
            "train_dvc_md5": dataset.train_dvc_md5,
            "train_manifest_sha256": dataset.train_manifest_sha256,
            "n_train": dataset.n_train,
            "n_test": dataset.n_test,
        },
        "validation": None
        if validation is None
        else {
            "success": validation.success,
            "gx_run_id": validation.gx_run_id,
            "data_docs": validation.data_docs,
            "statistics": validation.statistics,
        },
    }


def prediction_lineage(session: Session, image_sha256: str) -> dict[str, Any]:
    """The chain for the latest prediction made on an image."""
    predictions = find_predictions(session, image_sha256)
    if not predictions:
        raise NotFound(f"no prediction for image sha256 {image_sha256}")
    latest = predictions[-1]
    return {
        "prediction": {
            "id": latest.id,
            "image_sha256": latest.image_sha256,
            "label": latest.label,
            "score": round(latest.score, 4),
            "source": latest.source,
            "stored_path": latest.stored_path,
            "at": latest.created_at.isoformat(),
            "earlier_predictions": len(predictions) - 1,
        },
        # a person's label beside the prediction: the latest, then its history
        "labelled": _labelled(session, latest.workflow, image_sha256),
        **version_lineage(session, latest.workflow, latest.version),
    }


def _labelled(session: Session, workflow: str, image_sha256: str) -> dict[str, Any] | None:
    history = label_history(session, workflow, image_sha256)
    if not history:
        return None
    entries = [
        {"label": h.label, "actor": h.actor, "reason": h.reason, "at": h.at.isoformat()}
        for h in history
    ]
    return {**entries[-1], "history": entries}


def _short_metrics(metrics: dict[str, Any] | None) -> dict[str, Any] | None:
    if metrics is None:
        return None
    return {k: metrics[k] for k in ("accuracy", "macro_f1", "n") if k in metrics}


def lineage_runs(session: Session, workflow: str, version: str) -> dict[str, dict[str, Any]]:
    """The Airflow run (dag_id, run_id) that wrote each link of a version's chain."""
    mv, run, dataset, validation = _chain(session, workflow, version)
    rows = {"model_version": mv, "training_run": run, "dataset_version": dataset}
    if validation is not None:
        rows["validation"] = validation
    return {name: {"dag_id": row.dag_id, "run_id": row.run_id} for name, row in rows.items()}


def version_of_airflow_run(session: Session, dag_id: str, run_id: str) -> dict[str, Any] | None:
    """The version an Airflow run registered (workflow, version, tag), or None; the
    newest, should one run have registered several."""
    found = session.execute(
        sa.select(WorkflowRow.name, ModelVersionRow.version, ModelVersionRow.tag)
        .join(ModelVersionRow, ModelVersionRow.workflow_id == WorkflowRow.id)
        .where(ModelVersionRow.dag_id == dag_id, ModelVersionRow.run_id == run_id)
        .order_by(ModelVersionRow.id.desc())
        .limit(1)
    ).first()
    return None if found is None else {"workflow": found[0], "version": found[1], "tag": found[2]}
