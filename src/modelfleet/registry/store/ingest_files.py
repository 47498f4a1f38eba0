"""The stream classifier's rows: the ingest state of each landed file, the landing
entries refused, and the stored images with the predictions made of them (which
reclassify reads and adds to)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from modelfleet.registry.store.workflows import ensure_workflow
from modelfleet.registry.tables import (
    IngestFileRow,
    LandingRejectRow,
    ModelVersionRow,
    PredictionRow,
    WorkflowRow,
)

# ingest_file.state values: received -> classified -> stored, or -> quarantined
RECEIVED, CLASSIFIED, STORED, QUARANTINED = "received", "classified", "stored", "quarantined"
FINAL = (STORED, QUARANTINED)
# NOTIFY channel of the stream classifier; payload: JSON of the event
INGEST_CHANNEL = "modelfleet_ingest"


def ingest_state(session: Session, workflow: str, sha256: str) -> IngestFileRow | None:
    return session.execute(
        sa.select(IngestFileRow)
        .where(
            IngestFileRow.workflow_id == ensure_workflow(session, workflow),
            IngestFileRow.sha256 == sha256,
        )
        .with_for_update()
    ).scalar()


def receive(
    session: Session, workflow: str, files: list[tuple[str, bytes, str]], day: str
) -> dict[str, IngestFileRow]:
    """The locked rows of these files ((sha256, raw name, display name)), inserting the
    new ones as `received` on `day`. One INSERT and one SELECT for the whole batch;
    race-safe."""
    workflow_id = ensure_workflow(session, workflow)
    session.execute(
        pg_insert(IngestFileRow)
        .values(
            [
                {
                    "workflow_id": workflow_id,
                    "sha256": sha,
                    "original_name": name,
                    "original_name_raw": raw,
                    "state": RECEIVED,
                    "duplicates": 0,
                    "partition_date": day,
                }
                for sha, raw, name in files
            ]
        )
        .on_conflict_do_nothing()
    )
    rows = session.scalars(
        sa.select(IngestFileRow)
        .where(
            IngestFileRow.workflow_id == workflow_id,
            IngestFileRow.sha256.in_([sha for sha, _, _ in files]),
        )
        .order_by(IngestFileRow.id)
        .with_for_update()
    )
    return {row.sha256: row for row in rows}


def lock_in_state(session: Session, row_ids: list[int], state: str) -> set[int]:
    """Lock the rows still in `state`; returns their ids (others moved on meanwhile)."""
    return set(
        session.scalars(
            sa.select(IngestFileRow.id)
            .where(IngestFileRow.id.in_(row_ids), IngestFileRow.state == state)
            .with_for_update()
        )
    )


def count_copies(session: Session, files: dict[int, bytes]) -> int:
    """Count a duplicate on each row (locked) whose file is finished from a copy under
    another name than the row's own ({row id: raw name}); returns how many."""
    if not files:
        return 0
    names = session.execute(
        sa.select(IngestFileRow.id, IngestFileRow.original_name_raw).where(
            IngestFileRow.id.in_(list(files))
        )
    ).all()
    copies = [row_id for row_id, raw in names if bytes(raw) != files[row_id]]
    if copies:
        session.execute(
            sa.update(IngestFileRow)
            .where(IngestFileRow.id.in_(copies))
            .values(duplicates=IngestFileRow.duplicates + 1)
        )
    return len(copies)


def answers_of(session: Session, row_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The recorded prediction of classified ingest rows: label, score, model version."""
    if not row_ids:
        return {}
    rows = session.execute(
        sa.select(
            IngestFileRow.id, PredictionRow.label, PredictionRow.score, ModelVersionRow.version
        )
        .join(PredictionRow, PredictionRow.id == IngestFileRow.prediction_id)
        .join(ModelVersionRow, ModelVersionRow.id == PredictionRow.model_version_id)
        .where(IngestFileRow.id.in_(row_ids))
    )
    return {
        row_id: {"label": label, "score": score, "model_version": version}
        for row_id, label, score, version in rows
    }


def update_files(session: Session, changes: list[dict[str, Any]]) -> None:
    """Bulk UPDATE of ingest_file rows by id (executemany, batched by the driver)."""
    if changes:
        session.execute(sa.update(IngestFileRow), changes)


def notify_many(session: Session, events: list[dict[str, Any]]) -> None:
    """One NOTIFY per event, in one statement, sent when the transaction commits."""
    if events:
        session.execute(
            sa.text("SELECT pg_notify(:channel, x) FROM unnest(CAST(:payloads AS text[])) AS x"),
            {"channel": INGEST_CHANNEL, "payloads": [json.dumps(e, default=str) for e in events]},
        )


def lock_partition(session: Session, workflow: str, day: str) -> None:
    """Hold a transaction-level advisory lock on one lake partition (its manifest)."""
    session.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
        {"key": f"modelfleet.manifest:{workflow}:{day}"},
    )


def partition_manifest(session: Session, workflow: str, day: str) -> list[dict[str, Any]]:
    """Every stored image of one lake partition with its ingest prediction."""
    rows = session.execute(
        sa.select(IngestFileRow, PredictionRow, ModelVersionRow.version)
        .join(WorkflowRow, WorkflowRow.id == IngestFileRow.workflow_id)
        .join(PredictionRow, PredictionRow.id == IngestFileRow.prediction_id)
        .join(ModelVersionRow, ModelVersionRow.id == PredictionRow.model_version_id)
        .where(
            WorkflowRow.name == workflow,
            IngestFileRow.partition_date == day,
            IngestFileRow.state == STORED,
        )
        .order_by(IngestFileRow.id)
    ).all()
    return [
        {
            "sha256": f.sha256,
            "path": f.final_path,
            "source": f.original_name,
            "source_raw": f.original_name_raw,
            "label": p.label,
            "score": p.score,
            "scores_json": json.dumps(p.scores),
            "model_version": version,
            "received_at": f.received_at,
            "classified_at": f.classified_at,
        }
        for f, p, version in rows
    ]


def stored_images(
    session: Session, workflow: str, first_day: str, last_day: str
) -> list[tuple[str, str, str]]:
    """(sha256, lake path, original name) of the images stored in a range of days."""
    rows = session.execute(
        sa.select(IngestFileRow.sha256, IngestFileRow.final_path, IngestFileRow.original_name)
        .join(WorkflowRow, WorkflowRow.id == IngestFileRow.workflow_id)
        .where(
            WorkflowRow.name == workflow,
            IngestFileRow.state == STORED,
            IngestFileRow.partition_date >= first_day,
            IngestFileRow.partition_date <= last_day,
        )
        .order_by(IngestFileRow.id)
    ).all()
    # three str columns (a stored row has its lake path); mypy sees tuple(row) as any length
    return [tuple(r) for r in rows]  # type: ignore[misc]


def count_by_state(session: Session, workflow: str | None = None) -> dict[str, int]:
    query = sa.select(IngestFileRow.state, sa.func.count()).group_by(IngestFileRow.state)
    if workflow is not None:
        query = query.join(WorkflowRow, WorkflowRow.id == IngestFileRow.workflow_id).where(
            WorkflowRow.name == workflow
        )
    return {state: n for state, n in session.execute(query).all()}


def record_rejects(
    session: Session, workflow: str, rejects: list[dict[str, Any]]
) -> set[tuple[bytes, int, int]]:
    """Record refused landing entries (name_raw, name, device, inode, kind, reason,
    moved_to), each once; returns the (name_raw, device, inode) of those new here."""
    if not rejects:
        return set()
    workflow_id = ensure_workflow(session, workflow)
    inserted = session.execute(
        pg_insert(LandingRejectRow)
        .values([{"workflow_id": workflow_id, **reject} for reject in rejects])
        .on_conflict_do_nothing()
        .returning(LandingRejectRow.name_raw, LandingRejectRow.device, LandingRejectRow.inode)
    )
    return {(bytes(raw), int(device), int(inode)) for raw, device, inode in inserted}


def landing_rejects(session: Session, workflow: str) -> list[LandingRejectRow]:
    """The refused landing entries of `workflow`, oldest first."""
    return list(
        session.scalars(
            sa.select(LandingRejectRow)
            .join(WorkflowRow, WorkflowRow.id == LandingRejectRow.workflow_id)
            .where(WorkflowRow.name == workflow)
            .order_by(LandingRejectRow.id)
        )
    )


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
