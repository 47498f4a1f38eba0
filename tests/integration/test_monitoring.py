"""The monitors against real Postgres and Airflow: `monitor__digits` through dag.test()
stores a report without alerts for predictions that match the version's reference, and
for darkened images an input_drift alert row, a webhook outbox row and the asset event
modelfleet://digits/drift; `modelfleet monitor --json` reports the same, with live
accuracy from labels. Prediction rows are written as the endpoint's logger writes them
(COPY); no model is trained."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tests.helpers.monitoring import add_reference, add_version, log_predictions, reference

pytestmark = pytest.mark.integration

WORKFLOW = "digits"
CLASSES = [str(d) for d in range(10)]
SHARES = [0.1] * 10
HOOK = "http://127.0.0.1:9/monitor-alerts"  # never delivered here: the outbox row is the test


@pytest.fixture(scope="module")
def logged(platform):
    """A version of digits with its reference, 600 matching predictions 3 h ago (30 of
    them labelled, 24 correctly)."""
    from modelfleet.registry import db
    from modelfleet.registry.monitoring_tables import ImageLabelRow
    from modelfleet.registry.store.workflows import ensure_workflow

    engine = db.engine(platform.database_url)
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        workflow_id = ensure_workflow(session, WORKFLOW)
        version_id = add_version(session, WORKFLOW, "v9.1.0")
        add_reference(session, version_id, reference(CLASSES, SHARES))
    shas = [f"{i:064x}" for i in range(30)]
    log_predictions(
        engine, workflow_id, version_id, 600, classes=CLASSES, shares=SHARES,
        first=now - timedelta(hours=3), last=now - timedelta(hours=2, minutes=50), shas=shas,
    )  # fmt: skip
    with Session(engine) as session, session.begin():
        predicted = dict(
            session.execute(sa.text(
                "SELECT image_sha256, predicted FROM prediction_log WHERE image_sha256 IS NOT NULL"
            )).all()
        )  # fmt: skip
        for i, sha in enumerate(shas):  # 24 right, 6 wrong; an older wrong label is overruled
            right = predicted[sha]
            wrong = CLASSES[(CLASSES.index(right) + 1) % 10]
            session.add(ImageLabelRow(workflow_id=workflow_id, image_sha256=sha, label=wrong,
                                      actor="t", at=now - timedelta(days=1)))  # fmt: skip
            session.add(ImageLabelRow(workflow_id=workflow_id, image_sha256=sha,
                                      label=right if i < 24 else wrong, actor="t"))  # fmt: skip
    yield {"engine": engine, "workflow_id": workflow_id, "version_id": version_id, "now": now}
    # The session's registry is shared: later modules release digits and number their
    # versions after the highest one, so v9.1.0 and what hangs on it go again.
    with engine.begin() as conn:
        ids = {"v": version_id, "w": workflow_id, "start": now, "shas": shas}
        reports = (
            "SELECT id FROM monitor_report WHERE model_version_id = :v OR created_at >= :start"
        )
        conn.execute(sa.text(f"DELETE FROM monitor_alert WHERE report_id IN ({reports})"), ids)
        conn.execute(sa.text(f"DELETE FROM monitor_report WHERE id IN ({reports})"), ids)
        for table in ("prediction_log", "reference_stats"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE model_version_id = :v"), ids)
        conn.execute(sa.text("DELETE FROM image_label WHERE image_sha256 = ANY(:shas)"), ids)
        training = conn.execute(
            sa.text("DELETE FROM model_version WHERE id = :v RETURNING training_run_id"), ids
        ).scalar_one()
        dataset = conn.execute(
            sa.text("DELETE FROM training_run WHERE id = :t RETURNING dataset_version_id"),
            {"t": training},
        ).scalar_one()
        conn.execute(sa.text("DELETE FROM dataset_version WHERE id = :d"), {"d": dataset})


def _monitor_dag():
    from modelfleet.config import load_fleet
    from modelfleet.orchestration.monitor_dag import build_monitor_dag

    wf = load_fleet().get(WORKFLOW)
    # This module tests the monitors of the log it writes. The error rate is what the
    # session's shared endpoint counted for digits in the day, where other modules send
    # bad requests on purpose: it has its own test (test_prediction_log.py).
    thresholds = wf.monitor.thresholds.model_copy(update={"max_error_rate": 1.0})
    policy = wf.monitor.model_copy(
        update={"window": timedelta(days=1), "webhook": HOOK, "thresholds": thresholds}
    )
    return build_monitor_dag(wf.model_copy(update={"monitor": policy}))


def _run(dag, logical_date: datetime) -> dict[str, str]:
    from airflow.utils.session import create_session

    dag_run = dag.test(logical_date=logical_date)
    with create_session() as session:
        return {ti.task_id: ti.state for ti in dag_run.get_task_instances(session=session)}


def _drift_events() -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return [
            extra
            for (extra,) in session.execute(
                sa.select(AssetEvent.extra)
                .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
                .where(AssetModel.uri == f"modelfleet://{WORKFLOW}/drift")
                .order_by(AssetEvent.id)
            )
        ]


def _alerts(engine) -> list[tuple[str, float, float]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT kind, statistic, threshold FROM monitor_alert ORDER BY id"))]  # fmt: skip


def test_matching_predictions_raise_no_alert_and_darkened_ones_do(logged):
    engine = logged["engine"]
    dag = _monitor_dag()
    states = _run(dag, logged["now"] - timedelta(minutes=1))
    assert states == {"report": "success", "alerted": "success", "announce": "skipped"}
    with engine.connect() as conn:
        (n_logged, n_used, report) = conn.execute(sa.text(
            "SELECT n_logged, n_used, report FROM monitor_report ORDER BY id DESC LIMIT 1")).one()  # fmt: skip
    assert (n_logged, n_used) == (600, 600)
    assert report["alerts"] == [] and report["tested"] and report["version"] == "v9.1.0"
    assert (report["labelled"], report["live_accuracy"]) == (30, 0.8)
    assert _alerts(engine) == [] and _drift_events() == []

    # The camera darkens: 1200 newer predictions 0.2 darker.
    log_predictions(
        engine, logged["workflow_id"], logged["version_id"], 1200, classes=CLASSES,
        shares=SHARES, first=logged["now"] - timedelta(hours=2, minutes=40),
        last=logged["now"] - timedelta(hours=2, minutes=30), darken=0.2, seed=2,
    )  # fmt: skip
    states = _run(dag, logged["now"])
    assert states == {"report": "success", "alerted": "success", "announce": "success"}
    alerts = _alerts(engine)
    assert [kind for kind, _, _ in alerts] == ["input_drift"]
    (_, statistic, threshold) = alerts[0]
    assert statistic > threshold == 0.25
    with engine.connect() as conn:
        payloads = [p for (p,) in conn.execute(sa.text(
            "SELECT payload FROM webhook_event WHERE url = :u"), {"u": HOOK})]  # fmt: skip
    assert [(p["event"], p["kind"], p["detail"]) for p in payloads] == [
        ("monitor.alert", "input_drift", {"figure": "brightness"})
    ]
    (event,) = _drift_events()
    assert event["alerts"] == ["input_drift"] and event["version"] == "v9.1.0"


def test_the_cli_reports_the_same_as_json(logged, capsys):
    from modelfleet.cli import main

    assert main(["monitor", WORKFLOW, "--window", "4h", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["version"] == "v9.1.0" and report["n_logged"] >= 600
    assert report["labelled"] == 30 and report["live_accuracy"] == 0.8
    for alert in report["alerts"]:
        assert set(alert) == {"kind", "statistic", "threshold", "detail"}
    assert main(["monitor", WORKFLOW, "--window", "1m"]) == 0  # nothing logged in the last minute
    assert "(no predictions)" in capsys.readouterr().out


def test_the_cli_reads_over_a_bare_connection_what_the_dag_reads_in_its_session(logged):
    """`modelfleet monitor` reads through psycopg2 alone (registry.reader), so its process
    never imports SQLAlchemy; the report is the one run.compute gives in a Session."""
    import subprocess
    import sys

    from modelfleet.config import load_fleet
    from modelfleet.monitoring import run
    from modelfleet.monitoring.compute import compute_report
    from modelfleet.registry.reader import direct_query

    wf = load_fleet().get(WORKFLOW)
    end = datetime.now(UTC)
    with direct_query() as query:
        direct = compute_report(query, wf, end - timedelta(hours=4), end)
    with Session(logged["engine"]) as session:
        in_session = run.compute(session, wf, end - timedelta(hours=4), end)
    assert direct == in_session and direct["labelled"] == 30
    probe = (
        "import sys; from modelfleet.cli import main; code = main(['monitor', 'digits', "
        "'--json']); print(code, sorted(m for m in sys.modules if m.startswith('sqlalchemy')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "0 []"


def test_an_alert_run_skips_within_min_hours_of_the_last_one(logged):
    from modelfleet.config import load_fleet
    from modelfleet.orchestration.monitor_dag import alert_retrain_refusal
    from modelfleet.registry.tables import DatasetVersionRow

    wf = load_fleet().get(WORKFLOW)
    now = logged["now"]
    mine, earlier = "asset_triggered__2026-03-01T10:00:00+00:00_b", "asset_triggered__a"
    assert alert_retrain_refusal(wf, mine, now) is None  # no alert run snapshotted yet
    with Session(logged["engine"]) as session, session.begin():
        session.execute(
            sa.insert(DatasetVersionRow),
            [{"workflow_id": logged["workflow_id"], "month": "2026-02", "dag_id": "retrain__digits",
              "run_id": earlier, "train_manifest_sha256": "a" * 64,
              "holdout_manifest_sha256": "b" * 64, "test_manifest_sha256": "c" * 64,
              "n_train": 1, "n_holdout": 1, "n_test": 1, "months": ["2026-02"],
              "created_at": now - timedelta(hours=5)}],
        )  # fmt: skip
    refusal = alert_retrain_refusal(wf, mine, now)
    assert refusal is not None and "monitor.min_hours_between_retrains is 24" in refusal
    # a scheduled or manual run is never held back; 30 h later an alert run may go
    assert alert_retrain_refusal(wf, "scheduled__2026-03-01T00:00:00+00:00", now) is None
    assert alert_retrain_refusal(wf, mine, now + timedelta(hours=30)) is None


def test_a_window_larger_than_max_rows_is_subsampled_in_the_query_and_repeatably(logged):
    from modelfleet.config import load_fleet
    from modelfleet.monitoring.compute import compute_report
    from modelfleet.registry.reader import direct_query

    wf = load_fleet().get(WORKFLOW)
    small = wf.model_copy(update={"monitor": wf.monitor.model_copy(update={"max_rows": 300})})
    end = datetime.now(UTC)
    with direct_query() as query:
        whole = compute_report(query, wf, end - timedelta(hours=4), end)
        first = compute_report(query, small, end - timedelta(hours=4), end)
        again = compute_report(query, small, end - timedelta(hours=4), end)
    assert not whole["subsampled"] and whole["n_used"] == whole["n_logged"] >= 600
    assert first["subsampled"] and 0 < first["n_used"] <= 300 < first["n_logged"]
    assert first["n_logged"] == whole["n_logged"]  # counted over the whole window
    assert again == first  # a seeded sample: the same rows, the same figures
