"""Predictions: one row per image and model version that classified it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.registry.entities import NewPrediction, Prediction
from modelfleet.registry.store.rows import insert
from modelfleet.registry.tables import ModelVersionRow, PredictionRow, WorkflowRow


def add_prediction(session: Session, record: NewPrediction) -> int:
    return insert(session, PredictionRow, record).id


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


def add_predictions(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert prediction rows in one statement; their ids, in order."""
    if not rows:
        return []
    ids = session.execute(
        sa.insert(PredictionRow).returning(PredictionRow.id, sort_by_parameter_order=True), rows
    ).scalars()
    return list(ids)
