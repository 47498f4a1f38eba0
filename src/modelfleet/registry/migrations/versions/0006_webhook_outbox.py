"""webhook_event: the stream classifier's webhook outbox"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from modelfleet.registry.migrations.columns import workflow_record_keys

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "webhook_event",
        *workflow_record_keys(),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("failed_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_webhook_event_workflow_id", "webhook_event", ["workflow_id"])
    # What the senders look for: the pending events, by when they are due.
    op.create_index(
        "ix_webhook_event_pending",
        "webhook_event",
        ["next_attempt_at"],
        postgresql_where=sa.text("delivered_at IS NULL AND failed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("webhook_event")
