"""Alembic environment: online migrations against the configured URL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from modelfleet.registry.tables import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url is not None, "migrate() sets sqlalchemy.url"
engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
