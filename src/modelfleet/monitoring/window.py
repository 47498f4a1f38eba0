"""One monitor window read from the prediction log, subsampled in the query itself.

Two queries, each bounded by the index on (workflow_id, at):
1. one pass over the window counting its rows per version, and, joined to the latest
   label per image (image_label), how many were labelled and how many of those the model
   got right: live accuracy counts every labelled row, whatever the window's size;
2. the rows of the version that answered most; above `max_rows`, `TABLESAMPLE SYSTEM`
   (seeded) reads only the share of pages that holds about `max_rows` of them, so a window
   of a million rows moves a few percent of its pages, and twenty thousand rows to Python.
   A page sample is a cluster sample (rows logged together share a page); with hundreds of
   pages drawn that is fine for distributions over an hour or a day.
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
_SEED = 22  # REPEATABLE: the same window samples the same pages on each run


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
    log = PredictionLogRow.__table__
    counts = _counts(session, log, _in_window(log, workflow_id, start, end), workflow_id)
    if not counts:
        return Window(workflow, start, end)
    version_id, version, n_logged, labelled, correct = counts[0]
    rows = _sample(session, workflow_id, start, end, version_id, n_logged, max_rows)
    # column-wise: one pass over the rows rather than one per figure
    predicted, confidence, brightness, contrast, height, width, channels, embedding = (
        (list(column) for column in zip(*rows, strict=True)) if rows else ([] for _ in range(8))
    )
    return Window(
        workflow,
        start,
        end,
        version_id=version_id,
        version=version,
        per_version={str(v or "unknown"): int(n) for _, v, n, _, _ in counts},
        n_logged=int(n_logged),
        predicted=predicted,
        confidence=np.array(confidence, dtype=np.float64),
        brightness=np.array(brightness, dtype=np.float64),
        contrast=np.array(contrast, dtype=np.float64),
        shapes=list(zip(height, width, channels, strict=True)),
        embedding=_embeddings(embedding),
        labelled=int(labelled),
        correct=int(correct),
    )


def _in_window(
    log: sa.FromClause, workflow_id: int, start: datetime, end: datetime
) -> list[sa.ColumnElement[bool]]:
    return [
        log.c.workflow_id == workflow_id,
        log.c.at >= start,
        log.c.at < end,
        log.c.source.in_(MONITORED_SOURCES),
    ]


def _counts(
    session: Session, log: sa.FromClause, where: list[sa.ColumnElement[bool]], workflow_id: int
) -> Sequence[Any]:
    """Per version, most rows first: (id, version, rows, labelled, correct), in one pass
    over the window. Labelled: the row's image has a label, the latest per image
    (image_label); correct: that label is what the model predicted."""
    label = ImageLabelRow
    latest = (
        sa.select(label.image_sha256, label.label)
        .where(label.workflow_id == workflow_id)
        .distinct(label.image_sha256)
        .order_by(label.image_sha256, label.at.desc(), label.id.desc())
        .subquery()
    )
    rows = sa.func.count()
    query = (
        sa.select(
            log.c.model_version_id,
            ModelVersionRow.version,
            rows,
            sa.func.count(latest.c.label),
            sa.func.count().filter(latest.c.label == log.c.predicted),
        )
        .select_from(log)
        .outerjoin(latest, latest.c.image_sha256 == log.c.image_sha256)
        .outerjoin(ModelVersionRow, ModelVersionRow.id == log.c.model_version_id)
        .where(*where)
        .group_by(log.c.model_version_id, ModelVersionRow.version)
        .order_by(rows.desc())
    )
    return session.connection().execute(query).all()


def _sample(
    session: Session,
    workflow_id: int,
    start: datetime,
    end: datetime,
    version_id: int | None,
    n: int,
    max_rows: int,
) -> Sequence[Any]:
    """The version's rows of the window; above `max_rows`, a sample of the table's pages
    (TABLESAMPLE SYSTEM, seeded) sized to hold about `max_rows` of them, so a window of
    a million rows reads a few percent of its pages rather than all of them."""
    log: sa.FromClause = PredictionLogRow.__table__
    if n > max_rows:
        # a little above the share so the sample rarely falls short; LIMIT caps it
        percent = min(100.0, 110.0 * max_rows / n)
        log = sa.tablesample(log, sa.func.system(percent), name="sampled", seed=sa.literal(_SEED))
    version = log.c.model_version_id
    query = (
        sa.select(
            log.c.predicted,
            log.c.confidence,
            log.c.brightness,
            log.c.contrast,
            log.c.height,
            log.c.width,
            log.c.channels,
            # text, parsed by numpy at once: the driver's per-row array parsing took longer
            # than the query
            sa.func.array_to_string(log.c.embedding, ",").label("embedding"),
        )
        .where(
            *_in_window(log, workflow_id, start, end),
            version.is_(None) if version_id is None else version == version_id,
        )
        .limit(max_rows)
    )
    return session.connection().execute(query).all()


def _embeddings(texts: list[str | None]) -> np.ndarray:
    """'0.1,0.2,...' per row -> (n, PROJECTED_DIMS); rows of another width are left out."""
    kept = [t for t in texts if t and t.count(",") == PROJECTED_DIMS - 1]
    if not kept:
        return np.zeros((0, PROJECTED_DIMS))
    flat = np.array(",".join(kept).split(","), dtype=np.float64)
    return flat.reshape(len(kept), PROJECTED_DIMS)
