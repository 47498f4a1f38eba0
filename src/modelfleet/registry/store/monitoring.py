"""The prediction log's writes (COPY, in batches) and the reference statistics per version."""

from __future__ import annotations

import io
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from modelfleet.registry.monitoring_tables import ReferenceStatsRow
from modelfleet.registry.tables import ModelVersionRow, WorkflowRow

PREDICTION_LOG_COLUMNS = (
    "workflow_id",
    "model_version_id",
    "source",
    "application",
    "image_sha256",
    "predicted",
    "confidence",
    "brightness",
    "contrast",
    "height",
    "width",
    "channels",
    "embedding",
    "at",
)

Ids = tuple[int, int | None]  # (workflow id, model_version id)


class PredictionLogWriter:
    """Writes prediction-log entries `(workflow, version, source, ...)` with one COPY per
    batch. The (workflow, version) -> ids lookup is cached: it is asked once per version."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._ids: dict[tuple[str, str], Ids] = {}

    def __call__(self, entries: list[tuple[Any, ...]]) -> int:
        """Write entries; those of a workflow the registry does not know are skipped.
        Returns the rows written."""
        rows = []
        for workflow, version, *rest in entries:
            ids = self.ids(workflow, version)
            if ids is not None:
                rows.append((*ids, *rest))
        if rows:
            copy_into(self.engine, "prediction_log", PREDICTION_LOG_COLUMNS, copy_text(rows))
        return len(rows)

    def ids(self, workflow: str, version: str) -> Ids | None:
        key = (workflow, version)
        known = self._ids.get(key)
        if known is None or known[1] is None:  # asked again until the version is registered
            with self.engine.connect() as conn:
                row = conn.execute(
                    sa.select(WorkflowRow.id, ModelVersionRow.id)
                    .select_from(WorkflowRow)
                    .outerjoin(
                        ModelVersionRow,
                        (ModelVersionRow.workflow_id == WorkflowRow.id)
                        & (ModelVersionRow.version == version),
                    )
                    .where(WorkflowRow.name == workflow)
                ).first()
            if row is None:
                return None
            known = self._ids[key] = (int(row[0]), row[1])
        return known


def copy_into(engine: Engine, table: str, columns: tuple[str, ...], text: io.StringIO) -> None:
    """COPY rows in COPY's text format into `table`, in one transaction. A background
    writer's batch: COPY parses on the server, where an INSERT of many rows would bind
    each value in Python, in the endpoint's process, beside the requests."""
    raw = engine.raw_connection()
    try:
        cursor: Any = raw.cursor()  # psycopg2's: copy_expert is not in the DBAPI types
        try:
            cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", text)
        finally:
            cursor.close()
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()


def save_reference(session: Session, model_version_id: int, stats: dict[str, Any]) -> None:
    """Store (or replace) the reference statistics of a version."""
    row = session.get(ReferenceStatsRow, model_version_id)
    if row is None:
        session.add(ReferenceStatsRow(model_version_id=model_version_id, stats=stats))
    else:
        row.stats = stats
    session.flush()


def load_reference(session: Session, model_version_id: int) -> dict[str, Any] | None:
    row = session.get(ReferenceStatsRow, model_version_id)
    return None if row is None else dict(row.stats)


def version_id(session: Session, workflow: str, version: str) -> int | None:
    return session.execute(
        sa.select(ModelVersionRow.id)
        .join(WorkflowRow, WorkflowRow.id == ModelVersionRow.workflow_id)
        .where(WorkflowRow.name == workflow, ModelVersionRow.version == version)
    ).scalar_one_or_none()


def copy_text(rows: list[tuple[Any, ...]]) -> io.StringIO:
    """COPY's text format for prediction_log rows in PREDICTION_LOG_COLUMNS order (NULL
    as \\N, the embedding as {...}, tabs and newlines in text escaped). One f-string per
    row: at 1.0 sample rate this runs for every prediction, in the endpoint's process."""
    out = io.StringIO()
    write = out.write
    for wf, mv, source, app, sha, predicted, conf, bright, contrast, h, w, ch, emb, at in rows:
        write(
            f"{wf}\t{_NULL if mv is None else mv}\t{text_field(source)}\t{text_field(app)}\t"
            f"{text_field(sha)}\t{text_field(predicted)}\t{conf!r}\t{bright!r}\t{contrast!r}\t"
            f"{h}\t{w}\t{ch}\t{{{','.join(map(repr, emb))}}}\t{at.isoformat()}\n"
        )
    out.seek(0)
    return out


_NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def text_field(value: str | None) -> str:
    """A text value (or NULL) as COPY's text format reads it."""
    return _NULL if value is None else value.translate(_ESCAPES)
