"""`monitor__<wf>` as built (tasks, schedule, outlet) and retrain__<wf>'s schedule with
and without `monitor.retrain_on_alert`. Airflow is imported inside each test (see
test_dag_factory)."""

from __future__ import annotations

from datetime import UTC, datetime

from modelfleet.config import load_fleet
from modelfleet.settings import CHECKOUT


def _digits(**monitor: object):
    wf = load_fleet(CHECKOUT / "workflows.yaml").get("digits")
    return wf.model_copy(update={"monitor": wf.monitor.model_copy(update=monitor)})


def test_the_monitor_dag_announces_drift_only_after_an_alert():
    from modelfleet.orchestration.monitor_dag import build_monitor_dag

    dag = build_monitor_dag(_digits())
    assert dag.dag_id == "monitor__digits"
    assert [t.task_id for t in dag.tasks] == ["report", "alerted", "announce"]
    assert [a.uri for a in dag.get_task("announce").outlets] == ["modelfleet://digits/drift"]
    assert dag.get_task("report").outlets == []
    assert dag.timetable.summary == "0 * * * *"
    assert sorted(dag.tags) == ["digits", "lenet", "modelfleet", "monitor"]
    assert "input drift" in (dag.doc_md or "")
    assert dag.is_paused_upon_creation  # as a shipped workflow's retrain__<wf>


def test_retrain_on_alert_makes_the_schedule_asset_or_time():
    from airflow.sdk import AssetOrTimeSchedule

    from modelfleet.orchestration.dag_factory import build_retrain_dag

    plain = build_retrain_dag(_digits())
    assert not isinstance(plain.timetable, AssetOrTimeSchedule)
    early = build_retrain_dag(_digits(retrain_on_alert=True))
    assert isinstance(early.timetable, AssetOrTimeSchedule)
    assert early.timetable.asset_condition.uri == "modelfleet://digits/drift"
    assert early.timetable.timetable.expression == plain.timetable.summary == "0 0 1 * *"


def test_only_alert_runs_are_throttled():
    from modelfleet.orchestration.monitor_dag import alert_retrain_refusal, is_alert_run

    assert is_alert_run("asset_triggered__2026-03-01T10:00:00+00:00_abcd1234")
    assert not is_alert_run("scheduled__2026-03-01T00:00:00+00:00")
    now = datetime(2026, 3, 1, tzinfo=UTC)
    # not an alert run: no query at all, so no database is needed here
    assert alert_retrain_refusal(_digits(), "manual__2026-03-01T00:00:00+00:00", now) is None
