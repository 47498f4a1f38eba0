"""What a pipeline run writes before a version exists: dataset, validation,
training run, evaluations and the gate decision."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.errors import NotFound
from modelfleet.registry.entities import GateCheck, RunRef
from modelfleet.registry.store.workflows import ensure_workflow
from modelfleet.registry.tables import (
    DatasetVersionRow,
    EvaluationRow,
    GateDecisionRow,
    TrainingRunRow,
    ValidationRow,
    WorkflowRow,
)


def add_dataset_version(
    session: Session, *, workflow: str, month: str, run: RunRef, **fields: Any
) -> int:
    row = DatasetVersionRow(
        workflow_id=ensure_workflow(session, workflow), month=month, **fields, **run.columns()
    )
    session.add(row)
    session.flush()
    return row.id


def add_validation(
    session: Session,
    *,
    dataset_version_id: int,
    success: bool,
    gx_run_id: str | None,
    statistics: dict[str, Any],
    results: list[dict[str, Any]],
    data_docs: str | None,
    run: RunRef,
    offending_files: dict[str, list[str]] | None = None,
    quarantined: list[dict[str, str]] | None = None,
) -> int:
    row = ValidationRow(
        dataset_version_id=dataset_version_id,
        success=success,
        gx_run_id=gx_run_id,
        statistics=statistics,
        results=results,
        data_docs=data_docs,
        offending_files=offending_files or {},
        quarantined=quarantined or [],
        **run.columns(),
    )
    session.add(row)
    session.flush()
    return row.id


def get_dataset_version(session: Session, dataset_version_id: int) -> DatasetVersionRow:
    row = session.get(DatasetVersionRow, dataset_version_id)
    if row is None:
        raise NotFound(f"no dataset_version {dataset_version_id}")
    return row


def passed_validation(session: Session, dataset_version_id: int) -> ValidationRow | None:
    """The passing validation of a dataset version, if it has one."""
    return session.scalars(
        sa.select(ValidationRow)
        .where(ValidationRow.dataset_version_id == dataset_version_id, ValidationRow.success)
        .order_by(ValidationRow.id.desc())
        .limit(1)
    ).first()


def latest_validation(session: Session, workflow: str) -> tuple[str, bool] | None:
    """(month, success) of the workflow's most recent validation."""
    found = session.execute(
        sa.select(DatasetVersionRow.month, ValidationRow.success)
        .join(ValidationRow, ValidationRow.dataset_version_id == DatasetVersionRow.id)
        .join(WorkflowRow, WorkflowRow.id == DatasetVersionRow.workflow_id)
        .where(WorkflowRow.name == workflow)
        .order_by(ValidationRow.id.desc())
        .limit(1)
    ).first()
    return None if found is None else (found[0], bool(found[1]))


def rejected_months(session: Session, workflow: str) -> frozenset[str]:
    """Months whose latest validation failed: their data stays out of later windows."""
    latest = (
        sa.select(
            DatasetVersionRow.month,
            ValidationRow.success,
            sa.func.row_number()
            .over(partition_by=DatasetVersionRow.month, order_by=ValidationRow.id.desc())
            .label("rank"),
        )
        .join(ValidationRow, ValidationRow.dataset_version_id == DatasetVersionRow.id)
        .where(DatasetVersionRow.workflow_id == ensure_workflow(session, workflow))
        .subquery()
    )
    months = session.scalars(
        sa.select(latest.c.month).where(latest.c.rank == 1, sa.not_(latest.c.success))
    )
    return frozenset(months)


def add_training_run(
    session: Session,
    *,
    workflow: str,
    dataset_version_id: int,
    architecture: str,
    params: dict[str, Any],
    artifact_sha256: str,
    fit_seconds: float,
    run: RunRef,
    parent_version_id: int | None = None,
) -> int:
    row = TrainingRunRow(
        parent_version_id=parent_version_id,
        workflow_id=ensure_workflow(session, workflow),
        dataset_version_id=dataset_version_id,
        architecture=architecture,
        params=params,
        artifact_sha256=artifact_sha256,
        fit_seconds=fit_seconds,
        **run.columns(),
    )
    session.add(row)
    session.flush()
    return row.id


def get_training_run(session: Session, training_run_id: int) -> TrainingRunRow:
    row = session.get(TrainingRunRow, training_run_id)
    if row is None:
        raise NotFound(f"no training run with id {training_run_id}")
    return row


def add_evaluation(
    session: Session,
    *,
    training_run_id: int,
    role: str,
    split: str,
    metrics: dict[str, Any],
    model_version_id: int | None,
    run: RunRef,
) -> int:
    row = EvaluationRow(
        training_run_id=training_run_id,
        role=role,
        split=split,
        metrics=metrics,
        model_version_id=model_version_id,
        **run.columns(),
    )
    session.add(row)
    session.flush()
    return row.id


def evaluations(session: Session, training_run_id: int) -> list[EvaluationRow]:
    return list(
        session.execute(
            sa.select(EvaluationRow)
            .where(EvaluationRow.training_run_id == training_run_id)
            .order_by(EvaluationRow.id)
        ).scalars()
    )


def add_gate_decision(
    session: Session,
    *,
    training_run_id: int,
    passed: bool,
    checks: list[GateCheck],
    run: RunRef,
    override_actor: str | None = None,
    override_reason: str | None = None,
) -> int:
    row = GateDecisionRow(
        training_run_id=training_run_id,
        passed=passed,
        checks=[check.as_dict() for check in checks],
        override_actor=override_actor,
        override_reason=override_reason,
        **run.columns(),
    )
    session.add(row)
    session.flush()
    return row.id


def latest_gate_decision(session: Session, training_run_id: int) -> GateDecisionRow | None:
    return session.scalars(
        sa.select(GateDecisionRow)
        .where(GateDecisionRow.training_run_id == training_run_id)
        .order_by(GateDecisionRow.id.desc())
        .limit(1)
    ).first()


def training_runs(session: Session, workflow: str) -> list[TrainingRunRow]:
    """A workflow's training runs, newest first."""
    return list(
        session.scalars(
            sa.select(TrainingRunRow)
            .join(WorkflowRow, WorkflowRow.id == TrainingRunRow.workflow_id)
            .where(WorkflowRow.name == workflow)
            .order_by(TrainingRunRow.id.desc())
        )
    )


def gate_decision_of_airflow_run(
    session: Session, dag_id: str, run_id: str
) -> dict[str, Any] | None:
    """The gate decision an Airflow run recorded (passed, checks, override), or None."""
    row = session.scalars(
        sa.select(GateDecisionRow)
        .where(GateDecisionRow.dag_id == dag_id, GateDecisionRow.run_id == run_id)
        .order_by(GateDecisionRow.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return {
        "passed": row.passed,
        "checks": list(row.checks),
        "override_actor": row.override_actor,
        "override_reason": row.override_reason,
    }
