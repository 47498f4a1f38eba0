"""The latest DAG run of each workflow, read from Airflow's metadata database.

The plugin runs inside Airflow's api-server, so it uses Airflow's own session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class DagRunInfo:
    dag_id: str
    run_id: str
    state: str
    run_after: datetime | None


LatestRuns = Callable[[list[str]], dict[str, DagRunInfo]]


def latest_runs(dag_ids: list[str]) -> dict[str, DagRunInfo]:
    """Per DAG id, its most recent run (by `run_after`); DAGs without runs are absent."""
    if not dag_ids:
        return {}
    import sqlalchemy as sa
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    ranked = (
        sa.select(
            DagRun.dag_id,
            DagRun.run_id,
            DagRun.state,
            DagRun.run_after,
            sa.func.row_number()
            .over(partition_by=DagRun.dag_id, order_by=(DagRun.run_after.desc(), DagRun.id.desc()))
            .label("rank"),
        )
        .where(DagRun.dag_id.in_(dag_ids))
        .subquery()
    )
    with create_session() as session:
        rows = session.execute(
            sa.select(ranked.c.dag_id, ranked.c.run_id, ranked.c.state, ranked.c.run_after).where(
                ranked.c.rank == 1
            )
        ).all()
    return {
        dag_id: DagRunInfo(dag_id, run_id, str(state), run_after)
        for dag_id, run_id, state, run_after in rows
    }
