"""Landing names as bytes (ingest_file.original_name_raw) and refused landing entries
(landing_reject)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from modelfleet.registry.migrations.columns import workflow_record_keys

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.add_column("ingest_file", sa.Column("original_name_raw", sa.LargeBinary))
    # Names recorded so far were decoded as UTF-8: their bytes are that encoding.
    op.execute("UPDATE ingest_file SET original_name_raw = convert_to(original_name, 'UTF8')")
    op.alter_column("ingest_file", "original_name_raw", nullable=False)
    op.create_table(
        "landing_reject",
        *workflow_record_keys(),
        sa.Column("name_raw", sa.LargeBinary, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("device", sa.Numeric(20, 0), nullable=False),
        sa.Column("inode", sa.Numeric(20, 0), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("moved_to", sa.Text),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.UniqueConstraint("workflow_id", "name_raw", "device", "inode"),
    )


def downgrade() -> None:
    op.drop_table("landing_reject")
    op.drop_column("ingest_file", "original_name_raw")
