"""The months of training data the registry knows a workflow has: those a run snapshotted
(`dataset_version`) and those imported or generated outside a run (`data_month`).

The trigger form proposes them and a manual run without a month takes the latest; both
read them here so that nothing lists a folder or bucket to find them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from modelfleet.registry.store.workflows import ensure_workflow
from modelfleet.registry.tables import DataMonthRow, DatasetVersionRow, WorkflowRow

Origin = Literal["imported", "generated"]


def record_month(session: Session, workflow: str, month: str, origin: Origin) -> None:
    """Record that `workflow` has data for `month` (again: the latest origin wins)."""
    values = {"workflow_id": ensure_workflow(session, workflow), "month": month, "origin": origin}
    session.execute(
        insert(DataMonthRow)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["workflow_id", "month"],
            set_={"origin": origin, "recorded_at": sa.func.now()},
        )
    )


def recorded_months(session: Session, before: datetime | None = None) -> dict[str, list[str]]:
    """Every workflow's recorded months with data, sorted, in one query; with `before`,
    only those recorded by then (a run's choice must not move while it runs)."""
    imported = sa.select(DataMonthRow.workflow_id, DataMonthRow.month)
    snapshotted = sa.select(DatasetVersionRow.workflow_id, DatasetVersionRow.month)
    if before is not None:
        imported = imported.where(DataMonthRow.recorded_at <= before)
        snapshotted = snapshotted.where(DatasetVersionRow.created_at <= before)
    recorded = sa.union(imported, snapshotted).subquery()
    rows = session.execute(
        sa.select(WorkflowRow.name, recorded.c.month).join(
            recorded, recorded.c.workflow_id == WorkflowRow.id
        )
    )
    months: dict[str, set[str]] = defaultdict(set)
    for name, month in rows:
        months[name].add(month)
    return {name: sorted(held) for name, held in months.items()}
