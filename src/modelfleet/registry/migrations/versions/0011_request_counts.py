"""Request counts (issue 22's error-rate monitor): the endpoint's inference requests per
workflow and minute, by outcome
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from modelfleet.registry.migrations.columns import workflow_record_keys

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    # Each endpoint worker adds its counts to the minute's row (INSERT ... ON CONFLICT).
    op.create_table(
        "request_count",
        *workflow_record_keys(),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered", sa.Integer, nullable=False, server_default="0"),  # 2xx
        sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),  # 4xx
        sa.Column("failed", sa.Integer, nullable=False, server_default="0"),  # 5xx
        # the upsert's conflict target, and the index the window's sum reads
        sa.UniqueConstraint("workflow_id", "minute", name="uq_request_count_workflow_minute"),
    )


def downgrade() -> None:
    op.drop_table("request_count")
