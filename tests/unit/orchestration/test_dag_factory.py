"""The DAG factory: a shipped workflow's retrain DAG starts paused, a workflow the user
added (workflows.d) starts unpaused, so that it runs with no call to Airflow.

The factory imports Airflow, which reads its configuration once per process: it is imported
in the test, never at collection, or every later test would see Airflow's defaults (SQLite)
instead of the integration fixtures' metadata database."""

from __future__ import annotations

from modelfleet.config import load_fleet
from modelfleet.settings import CHECKOUT
from tests.helpers.user_workflow import write_user_workflow


def test_user_workflows_start_unpaused_and_shipped_ones_paused(tmp_path):
    from modelfleet.orchestration.dag_factory import build_all

    write_user_workflow(tmp_path)
    fleet = load_fleet(CHECKOUT / "workflows.yaml", tmp_path)
    assert fleet.user_workflows == {"photos": str(tmp_path / "photos.yaml")}
    dags = build_all(fleet)
    assert dags["retrain__photos"].is_paused_upon_creation is False
    assert dags["retrain__digits"].is_paused_upon_creation is True
    assert (
        build_all(fleet, only="retrain__photos")["retrain__photos"].is_paused_upon_creation is False
    )
