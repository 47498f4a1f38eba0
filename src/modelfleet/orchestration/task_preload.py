"""What every task process of the fleet's DAGs imports, imported once before it forks.

Airflow's scheduler loads the plugins folder, then forks its LocalExecutor workers, and
each worker forks a process per task: a module imported in the scheduler is already
imported in every task, for nothing. `plugins/modelfleet_preload.py` calls `preload()`
as Airflow loads it, so the task processes skip importing the platform's task code, the
store and its SQLAlchemy tables, pydantic and pyarrow (about 0.2 s a task).

Nothing here may import TensorFlow, Keras, Great Expectations or DVC (the scheduler must
stay light; those load inside the steps that use them), open a connection, start a
thread or read settings: a forked process would inherit them.
"""

from __future__ import annotations

from types import ModuleType


def preload() -> tuple[ModuleType, ...]:
    """Import the DAG file's modules (each task process parses it for its own DAG) and
    those that the tasks of `dag_factory` and `monitor_dag` import inside their callables
    (they stay lazy there, so parsing a DAG file never pays for them); returns them."""
    from modelfleet.monitoring import run
    from modelfleet.orchestration import dag_factory
    from modelfleet.pipeline import approve, context, data, reclassify, release, shadow, training
    from modelfleet.registry.store import data_months
    from modelfleet.versioning import commands

    return (
        dag_factory,
        run,
        approve,
        context,
        data,
        reclassify,
        release,
        shadow,
        training,
        data_months,
        commands,
    )
