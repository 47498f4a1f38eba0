"""Request counts (issue 22's error-rate monitor): the endpoint's inference requests per
workflow and minute, by outcome
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    # Each endpoint worker adds its counts to the minute's row (INSERT ... ON CONFLICT).
    # The key is the upsert's conflict target and the index the window's sum reads.
    op.create_table(
        "request_count",
        sa.Column("workflow_id", sa.Integer, sa.ForeignKey("workflow.id"), primary_key=True),
        sa.Column("minute", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("answered", sa.Integer, nullable=False, server_default="0"),  # 2xx
        sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),  # 4xx
        sa.Column("failed", sa.Integer, nullable=False, server_default="0"),  # 5xx
    )


def downgrade() -> None:
    op.drop_table("request_count")
