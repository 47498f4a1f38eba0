"""Predictions and the ingest state of landed files."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.registry.entities import Prediction
from modelfleet.registry.store.workflows import ensure_workflow
from modelfleet.registry.tables import IngestFileRow, ModelVersionRow, PredictionRow, WorkflowRow

# ingest_file.state values
RECEIVED, STORED, QUARANTINED = "received", "stored", "quarantined"


def add_prediction(
    session: Session,
    *,
    model_version_id: int,
    image_sha256: str,
    label: str,
    score: float,
    scores: dict[str, Any],
    source: str,
    stored_path: str | None,
) -> int:
    row = PredictionRow(
        model_version_id=model_version_id,
        image_sha256=image_sha256,
        label=label,
        score=score,
        scores=scores,
        source=source,
        stored_path=stored_path,
    )
    session.add(row)
    session.flush()
    return row.id


def find_predictions(session: Session, image_sha256: str) -> list[Prediction]:
    rows = session.execute(
        sa.select(PredictionRow, ModelVersionRow.version, WorkflowRow.name)
        .join(ModelVersionRow, ModelVersionRow.id == PredictionRow.model_version_id)
        .join(WorkflowRow, WorkflowRow.id == ModelVersionRow.workflow_id)
        .where(PredictionRow.image_sha256 == image_sha256)
        .order_by(PredictionRow.id)
    ).all()
    return [
        Prediction(
            p.id,
            wf,
            version,
            p.image_sha256,
            p.label,
            p.score,
            p.source,
            p.stored_path,
            p.created_at,
        )
        for p, version, wf in rows
    ]


def ingest_state(session: Session, workflow: str, sha256: str) -> IngestFileRow | None:
    return session.execute(
        sa.select(IngestFileRow)
        .where(
            IngestFileRow.workflow_id == ensure_workflow(session, workflow),
            IngestFileRow.sha256 == sha256,
        )
        .with_for_update()
    ).scalar()


def record_received(session: Session, workflow: str, sha256: str, name: str) -> IngestFileRow:
    row = IngestFileRow(
        workflow_id=ensure_workflow(session, workflow),
        sha256=sha256,
        original_name=name,
        state=RECEIVED,
        duplicates=0,
    )
    session.add(row)
    session.flush()
    return row


def count_by_state(session: Session, workflow: str | None = None) -> dict[str, int]:
    query = sa.select(IngestFileRow.state, sa.func.count()).group_by(IngestFileRow.state)
    if workflow is not None:
        query = query.join(WorkflowRow, WorkflowRow.id == IngestFileRow.workflow_id).where(
            WorkflowRow.name == workflow
        )
    return {state: n for state, n in session.execute(query).all()}
