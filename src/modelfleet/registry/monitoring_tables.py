"""The monitoring tables (migrations 0010 and 0011): what production saw, what people said about
it, and what the monitors concluded. Big serial ids: the prediction log grows with
traffic.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    REAL,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from modelfleet.registry.tables import Base, Stamp

BigId = Annotated[int, mapped_column(BigInteger, primary_key=True)]


class _WorkflowRow:
    """The columns every monitoring table opens with: its own big id and the workflow
    the row is about."""

    # Declarative puts a mixin's columns after the class's own; sort_order keeps these
    # two first, as migration 0010 creates them.
    id: Mapped[BigId] = mapped_column(sort_order=-2)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow.id"), sort_order=-1)


class PredictionLogRow(_WorkflowRow, Base):
    """One sampled endpoint prediction: input statistics and a projected embedding,
    never the image (`modelfleet.embedding` projects it)."""

    __tablename__ = "prediction_log"
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_version.id"))
    source: Mapped[str] = mapped_column(String(16))  # api | stream | shadow
    application: Mapped[str | None] = mapped_column(String(64))
    image_sha256: Mapped[str | None] = mapped_column(String(64))
    predicted: Mapped[str] = mapped_column(String(128))
    confidence: Mapped[float] = mapped_column(Float)
    brightness: Mapped[float] = mapped_column(Float)
    contrast: Mapped[float] = mapped_column(Float)
    height: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    channels: Mapped[int] = mapped_column(SmallInteger)
    embedding: Mapped[list[float]] = mapped_column(ARRAY(REAL))
    at: Mapped[Stamp]


class ImageLabelRow(_WorkflowRow, Base):
    """A person's label for a stored image; the latest per (workflow, image) wins, and
    the earlier ones stay as its history."""

    __tablename__ = "image_label"
    image_sha256: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(128))
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[Stamp]


class ReferenceStatsRow(Base):
    """What a version saw in training, as the monitors compare against it."""

    __tablename__ = "reference_stats"
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"), primary_key=True)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON)
    computed_at: Mapped[Stamp]


class MonitorReportRow(_WorkflowRow, Base):
    """One monitor window of one workflow (`monitor__<wf>` or `modelfleet monitor`)."""

    __tablename__ = "monitor_report"
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_version.id"))
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    n_logged: Mapped[int] = mapped_column(Integer)
    n_used: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    dag_id: Mapped[str | None] = mapped_column(String(250))
    run_id: Mapped[str | None] = mapped_column(String(250))
    created_at: Mapped[Stamp]


class MonitorAlertRow(_WorkflowRow, Base):
    __tablename__ = "monitor_alert"
    report_id: Mapped[int] = mapped_column(ForeignKey("monitor_report.id"))
    kind: Mapped[str] = mapped_column(String(32))
    statistic: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[Stamp]


class ShadowAnswerRow(_WorkflowRow, Base):
    """One mirrored request: production's answer and the candidate's, never returned."""

    __tablename__ = "shadow_answer"
    candidate_version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    production_version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    production_label: Mapped[str] = mapped_column(String(128))
    candidate_label: Mapped[str] = mapped_column(String(128))
    at: Mapped[Stamp]


class RequestCountRow(Base):
    """A workflow's inference requests in one minute, by outcome, summed over the
    endpoint's workers: what the error-rate monitor divides (serving.request_tally)."""

    __tablename__ = "request_count"
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow.id"), primary_key=True)
    minute: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
