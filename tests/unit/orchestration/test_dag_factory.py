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


def test_a_task_process_parse_asks_the_registry_nothing(monkeypatch, tmp_path):
    """A task process builds its own DAG only (Airflow's parsing context names it): the
    trigger form's proposed months, one registry connection, are for the DAG processor."""
    from modelfleet.orchestration import dag_factory

    asked: list[str] = []

    def recorded(fleet):
        asked.append("recorded")
        return {"digits": ["2031-07"]}

    monkeypatch.setattr(dag_factory, "recorded_at_parse", recorded)
    fleet = load_fleet(CHECKOUT / "workflows.yaml", tmp_path)
    only = dag_factory.build_all(fleet, only="retrain__digits")
    assert list(only) == ["retrain__digits"] and asked == []
    assert "examples" not in only["retrain__digits"].params.get_param("month").schema

    everything = dag_factory.build_all(fleet)
    assert asked == ["recorded"]
    assert "2031-07" in everything["retrain__digits"].params.get_param("month").schema["examples"]
