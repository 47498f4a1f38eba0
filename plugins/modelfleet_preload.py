"""Airflow plugin: the fleet's task code, imported before Airflow forks task processes.

Airflow imports this file in each component that loads plugins. In the scheduler that
happens before it forks its LocalExecutor workers, whose forks run the tasks, so every
task process starts with `modelfleet.orchestration.task_preload`'s modules imported
(about 0.2 s less per task; docs/benchmarks.md, "Task start"). No TensorFlow, Keras,
Great Expectations or DVC is imported.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from modelfleet.orchestration.task_preload import preload

preload()


class ModelfleetPreload(AirflowPlugin):
    name = "modelfleet_preload"
