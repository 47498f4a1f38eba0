"""Data months (data_month): the months of training data imported or generated outside a
run, so the trigger form can propose them without listing a folder

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_month",
        sa.Column("workflow_id", sa.Integer, sa.ForeignKey("workflow.id"), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
    )


def downgrade() -> None:
    op.drop_table("data_month")
