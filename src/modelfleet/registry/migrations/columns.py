"""Column groups that more than one migration creates alike.

A migration must keep creating what it created when it was written: change nothing
here that a migration already uses; add a new function instead.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def workflow_record_keys() -> list[sa.Column[Any]]:
    """The keys of an append-only row about one workflow (webhook_event, landing_reject):
    a big serial id, and the workflow it belongs to."""
    return [
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("workflow_id", sa.Integer, sa.ForeignKey("workflow.id"), nullable=False),
    ]
