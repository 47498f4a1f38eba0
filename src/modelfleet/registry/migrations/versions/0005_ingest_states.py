"""ingest_file: classified state, reason codes, partition date, step timestamps"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.add_column("ingest_file", sa.Column("reason_code", sa.String(32)))
    op.add_column("ingest_file", sa.Column("partition_date", sa.String(10)))
    op.add_column("ingest_file", sa.Column("classified_at", sa.DateTime(timezone=True)))
    op.add_column("ingest_file", sa.Column("stored_at", sa.DateTime(timezone=True)))
    op.create_index("ix_ingest_file_state", "ingest_file", ["workflow_id", "state"])
    op.create_index("ix_ingest_file_partition", "ingest_file", ["workflow_id", "partition_date"])


def downgrade() -> None:
    op.drop_index("ix_ingest_file_partition", "ingest_file")
    op.drop_index("ix_ingest_file_state", "ingest_file")
    for column in ("stored_at", "classified_at", "partition_date", "reason_code"):
        op.drop_column("ingest_file", column)
