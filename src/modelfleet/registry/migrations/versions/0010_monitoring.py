"""Monitoring (issue 22): the prediction log, labels from the floor, reference
statistics per version, monitor reports and their alerts, and shadow answers
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from modelfleet.registry.migrations.columns import workflow_record_keys

revision = "0010"
down_revision = "0009"


def _stamp(name: str) -> sa.Column[Any]:
    """When the row was written, by the database's clock."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    # One sampled endpoint prediction (never the image): written in batches with COPY.
    op.create_table(
        "prediction_log",
        *workflow_record_keys(),
        sa.Column("model_version_id", sa.Integer, sa.ForeignKey("model_version.id")),
        sa.Column("source", sa.String(16), nullable=False),  # api | stream | shadow
        sa.Column("application", sa.String(64)),
        sa.Column("image_sha256", sa.String(64)),  # known for stream images only
        sa.Column("predicted", sa.String(128), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("brightness", sa.Float, nullable=False),
        sa.Column("contrast", sa.Float, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("channels", sa.SmallInteger, nullable=False),
        # the penultimate embedding through a fixed random projection (modelfleet.embedding)
        sa.Column("embedding", postgresql.ARRAY(sa.REAL), nullable=False),
        _stamp("at"),
    )
    op.create_index("ix_prediction_log_workflow_at", "prediction_log", ["workflow_id", "at"])

    # A person's label for a stored image; the latest per (workflow, image) wins.
    op.create_table(
        "image_label",
        *workflow_record_keys(),
        sa.Column("image_sha256", sa.String(64), nullable=False),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        _stamp("at"),
    )
    op.create_index("ix_image_label_image", "image_label", ["workflow_id", "image_sha256", "at"])
    # Labelling is a grant of its own, off unless given (`modelfleet apps grant --label`).
    op.add_column(
        "application_grant",
        sa.Column("label", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    # Which labelled lake images a snapshot took, and which it left out and why.
    op.add_column("dataset_version", sa.Column("labelled", sa.JSON))

    # What a version saw in training: the monitors' reference, computed once per version.
    op.create_table(
        "reference_stats",
        sa.Column(
            "model_version_id", sa.Integer, sa.ForeignKey("model_version.id"), primary_key=True
        ),
        sa.Column("stats", sa.JSON, nullable=False),
        _stamp("computed_at"),
    )

    op.create_table(
        "monitor_report",
        *workflow_record_keys(),
        sa.Column("model_version_id", sa.Integer, sa.ForeignKey("model_version.id")),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("n_logged", sa.Integer, nullable=False),
        sa.Column("n_used", sa.Integer, nullable=False),  # after subsampling
        sa.Column("report", sa.JSON, nullable=False),
        sa.Column("dag_id", sa.String(250)),
        sa.Column("run_id", sa.String(250)),
        _stamp("created_at"),
    )
    op.create_index("ix_monitor_report_workflow", "monitor_report", ["workflow_id", "window_end"])

    op.create_table(
        "monitor_alert",
        *workflow_record_keys(),
        sa.Column("report_id", sa.BigInteger, sa.ForeignKey("monitor_report.id"), nullable=False),
        # input_drift | feature_drift | prediction_drift | confidence_drop | volume |
        # error_rate | accuracy_drop
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("statistic", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        _stamp("created_at"),
    )

    # One mirrored request: what production answered and what the candidate answered.
    op.create_table(
        "shadow_answer",
        *workflow_record_keys(),
        sa.Column(
            "candidate_version_id", sa.Integer, sa.ForeignKey("model_version.id"), nullable=False
        ),
        sa.Column(
            "production_version_id", sa.Integer, sa.ForeignKey("model_version.id"), nullable=False
        ),
        sa.Column("production_label", sa.String(128), nullable=False),
        sa.Column("candidate_label", sa.String(128), nullable=False),
        _stamp("at"),
    )
    op.create_index(
        "ix_shadow_answer_candidate", "shadow_answer", ["workflow_id", "candidate_version_id"]
    )


def downgrade() -> None:
    op.drop_column("dataset_version", "labelled")
    op.drop_column("application_grant", "label")
    for table in (
        "shadow_answer",
        "monitor_alert",
        "monitor_report",
        "reference_stats",
        "image_label",
        "prediction_log",
    ):
        op.drop_table(table)
