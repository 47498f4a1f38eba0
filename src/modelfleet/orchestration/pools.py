"""Airflow pools the DAGs use (names and sizes; `modelfleet up` creates them)."""

from __future__ import annotations

import os

# Training and evaluation are CPU-bound for minutes. Each run has its own workspace, so
# they may overlap; the pool only keeps them from oversubscribing the CPU, and tasks
# beyond it wait as "scheduled" instead of occupying executor slots that other
# workflows' validation, deploy and smoke tasks could use.
MODEL_REPO_POOL = "model_repo"


def training_slots() -> int:
    """MODELFLEET_TRAINING_SLOTS, or one training per two cores (TensorFlow uses both)."""
    configured = os.environ.get("MODELFLEET_TRAINING_SLOTS")
    return int(configured) if configured else max(1, (os.cpu_count() or 2) // 2)
