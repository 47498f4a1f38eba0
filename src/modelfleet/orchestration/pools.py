"""Airflow pools the DAGs use (names and sizes; `modelfleet up` creates them)."""

from __future__ import annotations

from modelfleet.host.cores import usable_cores
from modelfleet.settings import get_settings

# Training and evaluation are CPU-bound for minutes. Each run has its own workspace, so
# they may overlap; the pool only keeps them from oversubscribing the CPU, and tasks
# beyond it wait as "scheduled" instead of occupying executor slots that other
# workflows' validation, deploy and smoke tasks could use.
MODEL_REPO_POOL = "model_repo"


def training_slots() -> int:
    """The configured number, or one training per two cores (TensorFlow uses both)."""
    configured = get_settings().training_slots
    return configured if configured is not None else max(1, usable_cores() // 2)
