"""Labels from the floor: a person's class for a stored image, with its history.

The latest label per (workflow, image) wins; earlier ones stay, with who gave them,
when and why. Labels join training (`labels_until`, cut at a run's data-interval end)
and give each version its live accuracy (`live_accuracy`).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.errors import InvalidLabel, NotFound
from modelfleet.registry.monitoring_tables import ImageLabelRow, PredictionLogRow
from modelfleet.registry.store.ingest_files import STORED
from modelfleet.registry.store.workflows import ensure_workflow
from modelfleet.registry.tables import IngestFileRow, ModelVersionRow, PredictionRow, WorkflowRow

SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_REASON_CHARS = 1000


@dataclass(frozen=True)
class Label:
    workflow: str
    image_sha256: str
    label: str
    actor: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class LiveAccuracy:
    """One version's predictions of labelled images: how many, and how many right."""

    version: str
    labelled: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.labelled if self.labelled else float("nan")


def check_label(label: str, classes: Collection[str], workflow: str) -> str:
    """`label` if it is one of the workflow's classes; InvalidLabel naming them otherwise."""
    if label not in classes:
        shown = label if len(label) <= 64 else label[:64] + "..."
        raise InvalidLabel(
            f"{workflow}: label {shown!r} is not one of its classes: {', '.join(classes)}"
        )
    return label


def check_sha256(sha256: str) -> str:
    if not SHA256.fullmatch(sha256):
        raise InvalidLabel(f"image sha256 must be 64 lowercase hex digits, got {sha256[:80]!r}")
    return sha256


def image_known(session: Session, workflow: str, sha256: str) -> bool:
    """Has the workflow stored or classified this image (an ingest file or a prediction)?"""
    ingested = sa.select(IngestFileRow.id).join(
        WorkflowRow, WorkflowRow.id == IngestFileRow.workflow_id
    )
    ingested = ingested.where(WorkflowRow.name == workflow, IngestFileRow.sha256 == sha256)
    predicted = (
        sa.select(PredictionRow.id)
        .join(ModelVersionRow, ModelVersionRow.id == PredictionRow.model_version_id)
        .join(WorkflowRow, WorkflowRow.id == ModelVersionRow.workflow_id)
        .where(WorkflowRow.name == workflow, PredictionRow.image_sha256 == sha256)
    )
    return bool(session.execute(sa.select(sa.exists(ingested) | sa.exists(predicted))).scalar())


def add_label(
    session: Session,
    workflow: str,
    sha256: str,
    label: str,
    *,
    classes: Collection[str],
    actor: str,
    reason: str = "",
) -> Label:
    """Record a label for a stored image of `workflow` (the latest wins).

    InvalidLabel unless `label` is one of `classes` and `sha256` is a sha256; NotFound
    unless the workflow stored or classified that image.
    """
    check_sha256(sha256)
    check_label(label, classes, workflow)
    if "\x00" in reason or len(reason) > MAX_REASON_CHARS:
        raise InvalidLabel(f"reason must be at most {MAX_REASON_CHARS} characters, without NUL")
    if not image_known(session, workflow, sha256):
        raise NotFound(f"{workflow} has no stored image or prediction with sha256 {sha256}")
    row = ImageLabelRow(
        workflow_id=ensure_workflow(session, workflow),
        image_sha256=sha256,
        label=label,
        actor=actor,
        reason=reason.strip(),
    )
    session.add(row)
    session.flush()
    session.refresh(row)
    return Label(workflow, sha256, row.label, row.actor, row.reason, row.at)


def label_history(session: Session, workflow: str, sha256: str) -> list[Label]:
    """Every label of the image, oldest first (the last one is the one that counts)."""
    rows = session.execute(
        sa.select(ImageLabelRow)
        .join(WorkflowRow, WorkflowRow.id == ImageLabelRow.workflow_id)
        .where(WorkflowRow.name == workflow, ImageLabelRow.image_sha256 == sha256)
        .order_by(ImageLabelRow.at, ImageLabelRow.id)
    ).scalars()
    return [Label(workflow, r.image_sha256, r.label, r.actor, r.reason, r.at) for r in rows]


def latest_label(session: Session, workflow: str, sha256: str) -> Label | None:
    history = label_history(session, workflow, sha256)
    return history[-1] if history else None


def latest_labels(workflow_id: int, until: datetime | None = None) -> sa.Subquery:
    """(image_sha256, label, at): the latest label per image of the workflow, among those
    given at or before `until` (all of them without it)."""
    t = ImageLabelRow
    query = sa.select(t.image_sha256, t.label, t.at).where(t.workflow_id == workflow_id)
    if until is not None:
        query = query.where(t.at <= until)
    return (
        query.distinct(t.image_sha256).order_by(t.image_sha256, t.at.desc(), t.id.desc()).subquery()
    )


def labels_until(session: Session, workflow: str, until: datetime) -> dict[str, str]:
    """sha256 -> label: the latest label of each image as it stood at `until`."""
    found = session.scalar(sa.select(WorkflowRow.id).where(WorkflowRow.name == workflow))
    if found is None:
        return {}
    latest = latest_labels(found, until)
    return {sha: label for sha, label in session.execute(sa.select(latest.c[0], latest.c[1]))}


def live_accuracy(session: Session, workflow: str) -> dict[str, LiveAccuracy]:
    """version -> its live accuracy over the labelled images it classified.

    Predictions come from the stream's `prediction` rows (stream and reclassify) and the
    endpoint's logged rows that name an image (`prediction_log`, less source='stream',
    which the `prediction` rows hold already). Each (version, image) counts once, with
    that version's latest answer for it.
    """
    found = session.scalar(sa.select(WorkflowRow.id).where(WorkflowRow.name == workflow))
    if found is None:
        return {}
    stream = sa.select(
        PredictionRow.model_version_id.label("version_id"),
        PredictionRow.image_sha256.label("sha"),
        PredictionRow.label.label("predicted"),
        PredictionRow.created_at.label("at"),
    ).join(ModelVersionRow, ModelVersionRow.id == PredictionRow.model_version_id)
    stream = stream.where(ModelVersionRow.workflow_id == found)
    log = sa.select(
        PredictionLogRow.model_version_id,
        PredictionLogRow.image_sha256,
        PredictionLogRow.predicted,
        PredictionLogRow.at,
    ).where(
        PredictionLogRow.workflow_id == found,
        PredictionLogRow.model_version_id.is_not(None),
        PredictionLogRow.image_sha256.is_not(None),
        PredictionLogRow.source.not_in(("stream", "shadow")),
    )
    answers = sa.union_all(stream, log).subquery()
    latest_answer = (
        sa.select(answers.c.version_id, answers.c.sha, answers.c.predicted)
        .distinct(answers.c.version_id, answers.c.sha)
        .order_by(answers.c.version_id, answers.c.sha, answers.c.at.desc())
        .subquery()
    )
    labels = latest_labels(found)
    rows = session.execute(
        sa.select(
            ModelVersionRow.version,
            sa.func.count(),
            sa.func.count().filter(labels.c.label == latest_answer.c.predicted),
        )
        .select_from(latest_answer)
        .join(labels, labels.c.image_sha256 == latest_answer.c.sha)
        .join(ModelVersionRow, ModelVersionRow.id == latest_answer.c.version_id)
        .group_by(ModelVersionRow.version)
        .order_by(ModelVersionRow.version)
    ).all()
    return {v: LiveAccuracy(v, int(n), int(ok)) for v, n, ok in rows}


def stored_paths(session: Session, workflow: str, shas: Collection[str]) -> dict[str, str]:
    """sha256 -> lake path of those images the stream stored (quarantined ones have none)."""
    if not shas:
        return {}
    rows = session.execute(
        sa.select(IngestFileRow.sha256, IngestFileRow.final_path)
        .join(WorkflowRow, WorkflowRow.id == IngestFileRow.workflow_id)
        .where(
            WorkflowRow.name == workflow,
            IngestFileRow.sha256.in_(list(shas)),
            IngestFileRow.state == STORED,
            IngestFileRow.final_path.is_not(None),
        )
    ).all()
    return {sha: path for sha, path in rows if path is not None}
