"""validation: offending and quarantined files

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("validation", sa.Column("offending_files", sa.JSON(), nullable=True))
    op.add_column("validation", sa.Column("quarantined", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("validation", "quarantined")
    op.drop_column("validation", "offending_files")
