"""SQLAlchemy tables. The Alembic migrations in `migrations/versions` own the schema.

Rows written by a pipeline run carry `dag_id`, `run_id` and `code_sha` (the
modelfleet checkout's git commit), so every row leads back to its Airflow run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Column declarations many tables share, as SQLAlchemy's Annotated types: `Mapped[Id]`
# is the column `mapped_column(Integer, primary_key=True)`, and so on.
Id = Annotated[int, mapped_column(Integer, primary_key=True)]
# the workflow a row belongs to, indexed: most reads are one workflow's rows
WorkflowId = Annotated[int, mapped_column(ForeignKey("workflow.id"), index=True)]
# when the row was written (or last changed), by the database's clock
Stamp = Annotated[datetime, mapped_column(DateTime(timezone=True), server_default=func.now())]


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class RunLink:
    """Columns that tie a row to the Airflow run and code that wrote it."""

    dag_id: Mapped[str | None] = mapped_column(String(250))
    run_id: Mapped[str | None] = mapped_column(String(250))
    code_sha: Mapped[str | None] = mapped_column(String(64))


class RunRecord(RunLink):
    """A row a pipeline run appends: an integer id first, and the run that wrote it."""

    id: Mapped[Id] = mapped_column(sort_order=-1)


class WorkflowRow(Base):
    __tablename__ = "workflow"
    id: Mapped[Id]
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[Stamp]


class WorkflowEventRow(Base):
    """A user's workflow added or archived (`modelfleet workflow add/remove`); append-only.
    An archive's `detail` holds the grants it revoked ({application: pin}) and where the
    workflow's file went."""

    __tablename__ = "workflow_event"
    id: Mapped[Id]
    workflow_id: Mapped[WorkflowId]
    event: Mapped[str] = mapped_column(String(16))  # added | archived
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[Stamp]


class DatasetVersionRow(RunRecord, Base):
    __tablename__ = "dataset_version"
    workflow_id: Mapped[WorkflowId]
    month: Mapped[str] = mapped_column(String(7))
    train_manifest_sha256: Mapped[str] = mapped_column(String(64))
    holdout_manifest_sha256: Mapped[str] = mapped_column(String(64))
    test_manifest_sha256: Mapped[str] = mapped_column(String(64))
    train_dvc_md5: Mapped[str | None] = mapped_column(String(64))
    n_train: Mapped[int] = mapped_column(Integer)
    n_holdout: Mapped[int] = mapped_column(Integer)
    n_test: Mapped[int] = mapped_column(Integer)
    months: Mapped[list[Any]] = mapped_column(JSON)
    # labelled lake images taken and left out (migration 0010; None before it)
    labelled: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[Stamp]


class DataMonthRow(Base):
    """A month of a workflow's training data that arrived outside a run (`modelfleet data
    import` or `data generate`): the trigger form proposes it and a manual run without a
    month trains on the latest one, without anyone listing a folder or bucket."""

    __tablename__ = "data_month"
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow.id"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    origin: Mapped[str] = mapped_column(String(16))  # imported | generated
    recorded_at: Mapped[Stamp]


class ValidationRow(RunRecord, Base):
    __tablename__ = "validation"
    dataset_version_id: Mapped[int] = mapped_column(ForeignKey("dataset_version.id"), index=True)
    success: Mapped[bool] = mapped_column(Boolean)
    gx_run_id: Mapped[str | None] = mapped_column(String(250))
    statistics: Mapped[dict[str, Any]] = mapped_column(JSON)
    results: Mapped[list[Any]] = mapped_column(JSON)
    data_docs: Mapped[str | None] = mapped_column(Text)
    # {"<split>/<path>": [failed checks]} of the files behind blocking failures
    offending_files: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # [{"file", "reason", "moved_to"}] taken out of the delivery by this validation
    quarantined: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[Stamp]


class TrainingRunRow(RunRecord, Base):
    __tablename__ = "training_run"
    workflow_id: Mapped[WorkflowId]
    dataset_version_id: Mapped[int] = mapped_column(ForeignKey("dataset_version.id"))
    architecture: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    fit_seconds: Mapped[float] = mapped_column(Float)
    # The version whose weights this run started from (warm start or transfer), if any.
    parent_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_version.id"))
    created_at: Mapped[Stamp]


class ModelVersionRow(RunRecord, Base):
    __tablename__ = "model_version"
    __table_args__ = (UniqueConstraint("workflow_id", "version"),)
    workflow_id: Mapped[WorkflowId]
    version: Mapped[str] = mapped_column(String(32))
    version_int: Mapped[int] = mapped_column(BigInteger)
    tag: Mapped[str] = mapped_column(String(128))
    training_run_id: Mapped[int] = mapped_column(ForeignKey("training_run.id"), unique=True)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    repo_commit: Mapped[str] = mapped_column(String(64))
    # Repo-relative paths (at the tag) of metrics.json, plots and the weights.
    artifacts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[Stamp]


class EvaluationRow(RunRecord, Base):
    """Metrics of one model (candidate or production) on one split, in one run."""

    __tablename__ = "evaluation"
    training_run_id: Mapped[int] = mapped_column(ForeignKey("training_run.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # candidate | production
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_version.id"))
    split: Mapped[str] = mapped_column(String(16))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[Stamp]


class GateDecisionRow(RunRecord, Base):
    __tablename__ = "gate_decision"
    training_run_id: Mapped[int] = mapped_column(ForeignKey("training_run.id"), index=True)
    passed: Mapped[bool] = mapped_column(Boolean)
    checks: Mapped[list[Any]] = mapped_column(JSON)
    # set when an operator approved a rejected candidate (`modelfleet approve`)
    override_actor: Mapped[str | None] = mapped_column(String(128))
    override_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[Stamp]


class AliasRow(Base):
    """Current position of an alias (e.g. production); history is in alias_event."""

    __tablename__ = "alias"
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    updated_at: Mapped[Stamp]


class AliasEventRow(RunRecord, Base):
    """Append-only: every move of every alias."""

    __tablename__ = "alias_event"
    workflow_id: Mapped[WorkflowId]
    alias: Mapped[str] = mapped_column(String(32))
    from_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_version.id"))
    to_version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[Stamp]


class PredictionRow(Base):
    __tablename__ = "prediction"
    id: Mapped[Id]
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"), index=True)
    image_sha256: Mapped[str] = mapped_column(String(64), index=True)
    label: Mapped[str] = mapped_column(String(128))
    score: Mapped[float] = mapped_column(Float)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(Text)
    stored_path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[Stamp]


class IngestFileRow(Base):
    """One landed file (by content): received -> classified -> stored, or -> quarantined."""

    __tablename__ = "ingest_file"
    __table_args__ = (UniqueConstraint("workflow_id", "sha256"),)
    id: Mapped[Id]
    workflow_id: Mapped[WorkflowId]
    sha256: Mapped[str] = mapped_column(String(64))
    # the landing name for people (`modelfleet.printable.display_name`: control characters
    # and bytes that are not UTF-8 escaped), and as the filesystem held it
    original_name: Mapped[str] = mapped_column(Text)
    original_name_raw: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    final_path: Mapped[str | None] = mapped_column(Text)
    prediction_id: Mapped[int | None] = mapped_column(ForeignKey("prediction.id"))
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    # why a file was quarantined, as a code: zero_bytes, too_large, wrong_format, ...
    reason_code: Mapped[str | None] = mapped_column(String(32))
    # lake partition (UTC day it was received), fixed at receipt so a resumed file
    # lands where its first attempt would have
    partition_date: Mapped[str | None] = mapped_column(String(10))
    received_at: Mapped[Stamp]
    classified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[Stamp]


class LandingRejectRow(Base):
    """A landing entry the stream classifier refused without reading it: a link of any
    kind, a FIFO, socket, device or folder, a file with a second hard link, or one it
    could not open or read. Recorded once per (workflow, name, device, inode), and moved
    to `landing/<wf>/<moved_to>` (in `.rejected/`) unless it is an error left in place."""

    __tablename__ = "landing_reject"
    __table_args__ = (UniqueConstraint("workflow_id", "name_raw", "device", "inode"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow.id"))
    name_raw: Mapped[bytes] = mapped_column(LargeBinary)
    name: Mapped[str] = mapped_column(Text)  # display form, as in ingest_file.original_name
    # st_dev and st_ino are unsigned 64-bit numbers (overlayfs sets the high bits)
    device: Mapped[int] = mapped_column(Numeric(20, 0))
    inode: Mapped[int] = mapped_column(Numeric(20, 0))
    # symlink, fifo, socket, char_device, block_device, directory, hard_link, unreadable,
    # error (an entry that failed otherwise; it stays in landing and is tried again)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    moved_to: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[Stamp]


class WebhookEventRow(Base):
    """An event for a workflow's webhook, written in the transaction of the state change
    it announces (an outbox): a crash between that commit and the POST loses nothing."""

    __tablename__ = "webhook_event"
    __table_args__ = (
        Index(
            "ix_webhook_event_pending",
            "next_attempt_at",
            postgresql_where=text("delivered_at IS NULL AND failed_at IS NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    workflow_id: Mapped[WorkflowId]
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[Stamp]
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # gave up
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[Stamp]


class ApplicationRow(Base):
    """A client of the endpoint. Only a hash of its API key is stored."""

    __tablename__ = "application"
    id: Mapped[Id]
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str | None] = mapped_column(Text)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # declared in workflows.yaml (its grants follow the file) rather than by the CLI
    declared: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[Stamp]
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class GrantRow(Base):
    """Application may query workflow; unversioned requests resolve through `pin`
    (an alias such as production or candidate, or a fixed version)."""

    __tablename__ = "application_grant"
    application_id: Mapped[int] = mapped_column(
        ForeignKey("application.id", ondelete="CASCADE"), primary_key=True
    )
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow.id"), primary_key=True)
    pin: Mapped[str] = mapped_column(String(32))
    label: Mapped[bool] = mapped_column(Boolean, default=False)  # may label its images
    updated_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[Stamp]
