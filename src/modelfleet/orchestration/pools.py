"""Airflow pools the DAGs use (names only; `modelfleet up` creates them)."""

from __future__ import annotations

# Training and evaluation hold the model repository's workspace lock for minutes; in
# a one-slot pool they wait as "scheduled" instead of occupying executor slots that
# other workflows' validation, deploy and smoke tasks could use.
MODEL_REPO_POOL = "model_repo"
