"""validation: offending and quarantined files; gate_decision: manual overrides"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("validation", sa.Column("offending_files", sa.JSON(), nullable=True))
    op.add_column("validation", sa.Column("quarantined", sa.JSON(), nullable=True))
    op.add_column("gate_decision", sa.Column("override_actor", sa.String(128), nullable=True))
    op.add_column("gate_decision", sa.Column("override_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("gate_decision", "override_reason")
    op.drop_column("gate_decision", "override_actor")
    op.drop_column("validation", "quarantined")
    op.drop_column("validation", "offending_files")
