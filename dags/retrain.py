"""Airflow DAG file: per entry in workflows.yaml, a `retrain__<workflow>` DAG, a
`reclassify__<workflow>` DAG and a `monitor__<workflow>` DAG.

Wiring only (the words "airflow" and "dag" also let Airflow's safe-mode
discovery pick this file up). A task process parses this file for its own DAG only
(Airflow's parsing context names it); the DAG processor, with no context, gets all.
"""

from __future__ import annotations

from airflow.sdk import get_parsing_context

from modelfleet.config import load_fleet
from modelfleet.orchestration.dag_factory import build_all

# A user's workflows.d file that does not load is left out (and logged), so it cannot take
# the other workflows' DAGs down with it.
fleet = load_fleet(skip_bad_user_files=True)
globals().update(build_all(fleet, only=get_parsing_context().dag_id))
