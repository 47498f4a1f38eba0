"""Workflow events (workflow_event): a user's workflow added or archived, by whom, why,
and for an archive the grants it revoked
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "workflow_event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "workflow_id", sa.Integer, sa.ForeignKey("workflow.id"), nullable=False, index=True
        ),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("workflow_event")
