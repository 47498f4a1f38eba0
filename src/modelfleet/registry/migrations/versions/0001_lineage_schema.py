"""lineage schema"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def _now(name: str) -> sa.Column[datetime]:
    """A timestamp column that defaults to the time the row is written."""
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _provenance() -> list[sa.Column[str]]:
    """The columns naming the Airflow run and code commit that wrote a row."""
    return [
        sa.Column("dag_id", sa.String(length=250)),
        sa.Column("run_id", sa.String(length=250)),
        sa.Column("code_sha", sa.String(length=64)),
    ]


def _id() -> sa.Column[int]:
    """The integer id column (the primary key says it is one)."""
    return sa.Column("id", sa.Integer(), nullable=False)


def _ref(name: str, table: str, *, nullable: bool = False, index: bool = False) -> sa.Column[int]:
    """An integer column holding the id of a row of `table`; `index`: with the
    non-unique index `ix_<table>_<column>` that `op.create_table` creates."""
    return sa.Column(
        name, sa.Integer(), sa.ForeignKey(f"{table}.id"), nullable=nullable, index=index
    )


def _index(table: str, column: str) -> None:
    """The non-unique index on one column, with Alembic's `ix_<table>_<column>` name."""
    op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def _run_record(table: str, *columns: sa.schema.SchemaItem, stamp: str = "created_at") -> None:
    """A table of rows that pipeline runs append: an id, `columns`, when the row was
    written and the run that wrote it."""
    op.create_table(
        table, _id(), *columns, _now(stamp), *_provenance(), sa.PrimaryKeyConstraint("id")
    )


# The tables in the order they are created (each refers only to those before it).
TABLES = (
    "workflow",
    "dataset_version",
    "training_run",
    "validation",
    "gate_decision",
    "model_version",
    "alias",
    "alias_event",
    "evaluation",
    "prediction",
    "ingest_file",
)


def upgrade() -> None:
    op.create_table(
        "workflow",
        _id(),
        sa.Column("name", sa.String(length=64), nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    _run_record(
        "dataset_version",
        _ref("workflow_id", "workflow", index=True),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("train_manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("holdout_manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("test_manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("train_dvc_md5", sa.String(length=64)),
        sa.Column("n_train", sa.Integer(), nullable=False),
        sa.Column("n_holdout", sa.Integer(), nullable=False),
        sa.Column("n_test", sa.Integer(), nullable=False),
        sa.Column("months", sa.JSON(), nullable=False),
    )
    _run_record(
        "training_run",
        _ref("workflow_id", "workflow", index=True),
        _ref("dataset_version_id", "dataset_version"),
        sa.Column("architecture", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("artifact_sha256", sa.String(length=64), nullable=False),
        sa.Column("fit_seconds", sa.Float(), nullable=False),
    )
    _run_record(
        "validation",
        _ref("dataset_version_id", "dataset_version", index=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("gx_run_id", sa.String(length=250)),
        sa.Column("statistics", sa.JSON(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("data_docs", sa.Text()),
    )
    _run_record(
        "gate_decision",
        _ref("training_run_id", "training_run", index=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
    )
    _run_record(
        "model_version",
        _ref("workflow_id", "workflow", index=True),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("version_int", sa.BigInteger(), nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=False),
        _ref("training_run_id", "training_run"),
        sa.Column("artifact_sha256", sa.String(length=64), nullable=False),
        sa.Column("repo_commit", sa.String(length=64), nullable=False),
        sa.UniqueConstraint("training_run_id"),
        sa.UniqueConstraint("workflow_id", "version"),
    )
    op.create_table(
        "alias",
        _ref("workflow_id", "workflow"),
        sa.Column("name", sa.String(length=32), nullable=False),
        _ref("model_version_id", "model_version"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("workflow_id", "name"),
    )
    _run_record(
        "alias_event",
        _ref("workflow_id", "workflow", index=True),
        sa.Column("alias", sa.String(length=32), nullable=False),
        _ref("from_version_id", "model_version", nullable=True),
        _ref("to_version_id", "model_version"),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        stamp="at",
    )
    _run_record(
        "evaluation",
        _ref("training_run_id", "training_run", index=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        _ref("model_version_id", "model_version", nullable=True),
        sa.Column("split", sa.String(length=16), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
    )
    op.create_table(
        "prediction",
        _id(),
        _ref("model_version_id", "model_version"),
        sa.Column("image_sha256", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("stored_path", sa.Text()),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("prediction", "image_sha256")
    _index("prediction", "model_version_id")
    op.create_table(
        "ingest_file",
        _id(),
        _ref("workflow_id", "workflow"),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("original_name", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("final_path", sa.Text()),
        _ref("prediction_id", "prediction", nullable=True),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        _now("received_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workflow_id", "sha256"),
    )
    _index("ingest_file", "workflow_id")


def downgrade() -> None:
    # Dropping a table drops its indexes and constraints; those that refer to a table go
    # before it.
    for table in reversed(TABLES):
        op.drop_table(table)
