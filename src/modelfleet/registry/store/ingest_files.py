"""The stream's stored images and the predictions made of them: the queries the stream
classifier and reclassify run besides those of `predictions` (the ingest state rows)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.registry.tables import IngestFileRow, PredictionRow


def link_stored_paths(session: Session, row_ids: list[int]) -> None:
    """Give the predictions of these ingest rows the lake path their files were stored at."""
    if row_ids:
        session.execute(
            sa.update(PredictionRow)
            .where(PredictionRow.id == IngestFileRow.prediction_id)
            .where(IngestFileRow.id.in_(row_ids))
            .values(stored_path=IngestFileRow.final_path)
        )


def predicted_images(session: Session, version_id: int, shas: list[str]) -> set[str]:
    """The images among `shas` that already have a prediction of version `version_id`."""
    return set(
        session.scalars(
            sa.select(PredictionRow.image_sha256).where(
                PredictionRow.model_version_id == version_id,
                PredictionRow.image_sha256.in_(shas),
            )
        )
    )


def lock_version_writer(session: Session, writer: str, version_id: int) -> None:
    """Hold a transaction-level advisory lock: one `writer` of one version's rows at a time."""
    session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(writer), version_id)))
