"""One monitor window read from the prediction log, subsampled in the query itself.

Two queries over the window's rows of the workflow (the index on (workflow_id, at)
bounds both): the rows per version, then a uniform sample of the main version's rows
(`random() < max_rows / n`, seeded, so a report over a million rows moves only a few
thousand to Python). Live accuracy is counted over all the window's labelled rows: labels
are few, so the join is cheap whatever the window's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.embedding import PROJECTED_DIMS
from modelfleet.registry.monitoring_tables import ImageLabelRow, PredictionLogRow
from modelfleet.registry.tables import ModelVersionRow, WorkflowRow

# Shadow answers are the candidate's, never production's: not part of what production saw.
MONITORED_SOURCES = ("api", "stream")
_SEED = 0.22  # setseed(): the same window samples the same rows on each run


@dataclass(frozen=True)
class Window:
    """The main version's sampled rows of one window (the version that answered most)."""

    workflow: str
    start: datetime
    end: datetime
    version_id: int | None = None
    version: str | None = None
    per_version: dict[str, int] = field(default_factory=dict)
    n_logged: int = 0  # the main version's rows in the window
    predicted: list[str] = field(default_factory=list)
    confidence: np.ndarray = field(default_factory=lambda: np.zeros(0))
    brightness: np.ndarray = field(default_factory=lambda: np.zeros(0))
    contrast: np.ndarray = field(default_factory=lambda: np.zeros(0))
    shapes: list[tuple[int, int, int]] = field(default_factory=list)
    embedding: np.ndarray = field(default_factory=lambda: np.zeros((0, PROJECTED_DIMS)))
    labelled: int = 0
    correct: int = 0

    @property
    def n_used(self) -> int:
        return len(self.predicted)

    @property
    def total_logged(self) -> int:
        return sum(self.per_version.values())


def read_window(
    session: Session, workflow: str, start: datetime, end: datetime, *, max_rows: int
) -> Window:
    workflow_id = session.scalar(sa.select(WorkflowRow.id).where(WorkflowRow.name == workflow))
    if workflow_id is None:
        return Window(workflow, start, end)
    in_window = (
        PredictionLogRow.workflow_id == workflow_id,
        PredictionLogRow.at >= start,
        PredictionLogRow.at < end,
        PredictionLogRow.source.in_(MONITORED_SOURCES),
    )
    counts = session.execute(
        sa.select(PredictionLogRow.model_version_id, ModelVersionRow.version, sa.func.count())
        .outerjoin(ModelVersionRow, ModelVersionRow.id == PredictionLogRow.model_version_id)
        .where(*in_window)
        .group_by(PredictionLogRow.model_version_id, ModelVersionRow.version)
        .order_by(sa.func.count().desc())
    ).all()
    if not counts:
        return Window(workflow, start, end)
    version_id, version, n_logged = counts[0]
    per_version = {str(v or "unknown"): int(n) for _, v, n in counts}
    mine = (*in_window, _same_version(version_id))
    rows = _sample(session, mine, n_logged, max_rows)
    labelled, correct = _accuracy(session, workflow_id, mine)
    return Window(
        workflow,
        start,
        end,
        version_id=version_id,
        version=version,
        per_version=per_version,
        n_logged=int(n_logged),
        predicted=[r.predicted for r in rows],
        confidence=np.array([r.confidence for r in rows], dtype=np.float64),
        brightness=np.array([r.brightness for r in rows], dtype=np.float64),
        contrast=np.array([r.contrast for r in rows], dtype=np.float64),
        shapes=[(r.height, r.width, r.channels) for r in rows],
        embedding=_embeddings([r.embedding for r in rows]),
        labelled=labelled,
        correct=correct,
    )


def _same_version(version_id: int | None) -> sa.ColumnElement[bool]:
    column = PredictionLogRow.model_version_id
    return column.is_(None) if version_id is None else column == version_id


def _sample(
    session: Session, where: tuple[sa.ColumnElement[bool], ...], n: int, max_rows: int
) -> Sequence[Any]:
    t = PredictionLogRow
    query = sa.select(
        t.predicted,
        t.confidence,
        t.brightness,
        t.contrast,
        t.height,
        t.width,
        t.channels,
        t.embedding,
    ).where(*where)
    if n > max_rows:
        session.execute(sa.select(sa.func.setseed(_SEED)))
        # a little above the share so the sample rarely falls short; LIMIT caps it
        query = query.where(sa.func.random() < min(1.0, 1.05 * max_rows / n)).limit(max_rows)
    return session.execute(query).all()


def _accuracy(
    session: Session, workflow_id: int, where: tuple[sa.ColumnElement[bool], ...]
) -> tuple[int, int]:
    """(labelled, correct): the window's rows whose image has a label, the latest per
    image (M3's image_label), and how many of them the model got right."""
    label = ImageLabelRow
    latest = (
        sa.select(label.image_sha256, label.label)
        .where(label.workflow_id == workflow_id)
        .distinct(label.image_sha256)
        .order_by(label.image_sha256, label.at.desc(), label.id.desc())
        .subquery()
    )
    row = session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count().filter(latest.c.label == PredictionLogRow.predicted),
        )
        .select_from(PredictionLogRow)
        .join(latest, latest.c.image_sha256 == PredictionLogRow.image_sha256)
        .where(*where)
    ).one()
    return int(row[0]), int(row[1])


def _embeddings(values: list[list[float] | None]) -> np.ndarray:
    kept = [v for v in values if v is not None and len(v) == PROJECTED_DIMS]
    if not kept:
        return np.zeros((0, PROJECTED_DIMS))
    return np.asarray(kept, dtype=np.float64)
