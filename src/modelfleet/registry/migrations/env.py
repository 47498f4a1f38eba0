"""Alembic environment: online migrations against the configured URL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from modelfleet.registry.tables import Base

config = context.config
engine = sa.create_engine(config.get_main_option("sqlalchemy.url"), poolclass=sa.pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
