"""What a pipeline run writes before a version exists: dataset, validation,
training run, evaluations and the gate decision. Reads return entities, never rows."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.errors import NotFound
from modelfleet.registry.entities import (
    DatasetVersion,
    Evaluation,
    GateDecision,
    NewDatasetVersion,
    NewEvaluation,
    NewGateDecision,
    NewTrainingRun,
    NewValidation,
    TrainingRun,
    Validation,
)
from modelfleet.registry.store.rows import entity, insert
from modelfleet.registry.store.workflows import ensure_workflow
from modelfleet.registry.tables import (
    DatasetVersionRow,
    EvaluationRow,
    GateDecisionRow,
    TrainingRunRow,
    ValidationRow,
    WorkflowRow,
)


def add_dataset_version(session: Session, record: NewDatasetVersion) -> int:
    return insert(session, DatasetVersionRow, record).id


def add_validation(session: Session, record: NewValidation) -> int:
    return insert(
        session,
        ValidationRow,
        record,
        offending_files=record.offending_files or {},
        quarantined=record.quarantined or [],
    ).id


def get_dataset_version(session: Session, dataset_version_id: int) -> DatasetVersion:
    row = session.get(DatasetVersionRow, dataset_version_id)
    if row is None:
        raise NotFound(f"no dataset_version {dataset_version_id}")
    return entity(DatasetVersion, row)


def passed_validation(session: Session, dataset_version_id: int) -> Validation | None:
    """The passing validation of a dataset version, if it has one."""
    row = session.scalars(
        sa.select(ValidationRow)
        .where(ValidationRow.dataset_version_id == dataset_version_id, ValidationRow.success)
        .order_by(ValidationRow.id.desc())
        .limit(1)
    ).first()
    return None if row is None else entity(Validation, row)


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


def add_training_run(session: Session, record: NewTrainingRun) -> int:
    return insert(session, TrainingRunRow, record).id


def get_training_run(session: Session, training_run_id: int) -> TrainingRun:
    row = session.get(TrainingRunRow, training_run_id)
    if row is None:
        raise NotFound(f"no training run with id {training_run_id}")
    return entity(TrainingRun, row)


def add_evaluation(session: Session, record: NewEvaluation) -> int:
    return insert(session, EvaluationRow, record).id


def evaluations(session: Session, training_run_id: int) -> list[Evaluation]:
    rows = session.scalars(
        sa.select(EvaluationRow)
        .where(EvaluationRow.training_run_id == training_run_id)
        .order_by(EvaluationRow.id)
    )
    return [entity(Evaluation, row) for row in rows]


def scored_metrics(session: Session, training_run_id: int) -> dict[str, dict[str, Any]]:
    """A training run's evaluations as role -> split -> metrics (the gate's input)."""
    scored: dict[str, dict[str, Any]] = {}
    for evaluation in evaluations(session, training_run_id):
        scored.setdefault(evaluation.role, {})[evaluation.split] = evaluation.metrics
    return scored


def add_gate_decision(session: Session, record: NewGateDecision) -> int:
    checks = [check.as_dict() for check in record.checks]
    return insert(session, GateDecisionRow, record, checks=checks).id


def latest_gate_decision(session: Session, training_run_id: int) -> GateDecision | None:
    row = session.scalars(
        sa.select(GateDecisionRow)
        .where(GateDecisionRow.training_run_id == training_run_id)
        .order_by(GateDecisionRow.id.desc())
        .limit(1)
    ).first()
    return None if row is None else entity(GateDecision, row)


def training_runs(session: Session, workflow: str) -> list[TrainingRun]:
    """A workflow's training runs, newest first."""
    rows = session.scalars(
        sa.select(TrainingRunRow)
        .join(WorkflowRow, WorkflowRow.id == TrainingRunRow.workflow_id)
        .where(WorkflowRow.name == workflow)
        .order_by(TrainingRunRow.id.desc())
    )
    return [entity(TrainingRun, row) for row in rows]


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
