"""The months a workflow has data for, from a real Postgres: the trigger form proposes
them, and a manual run without a month trains on the latest."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

pytestmark = pytest.mark.integration

IMPORTED = ("weld_pipe", "2027-02")  # beyond its declared months: only the registry knows it


@pytest.fixture()
def imported_month(platform) -> Iterator[tuple[str, str]]:
    from modelfleet.registry import db
    from modelfleet.registry.store.data_months import record_month
    from modelfleet.registry.tables import DataMonthRow

    workflow, month = IMPORTED
    with Session(db.engine(platform.database_url)) as session, session.begin():
        record_month(session, workflow, month, "imported")
    yield IMPORTED
    with Session(db.engine(platform.database_url)) as session, session.begin():
        session.execute(sa.delete(DataMonthRow).where(DataMonthRow.month == month))


def _dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).get_dag(dag_id)


def test_the_parsed_month_param_proposes_the_months_with_data(imported_month):
    from airflow.serialization.serialized_objects import DagSerialization

    from modelfleet.config import load_fleet
    from modelfleet.orchestration.months_with_data import declared_months

    workflow, month = imported_month
    dag = _dag(f"retrain__{workflow}")
    declared = declared_months(load_fleet().get(workflow))
    schema = dag.params.get_param("month").schema
    assert schema["examples"] == [*declared, month]
    assert "enum" not in schema  # a month imported after this parse is still accepted
    # ... and the form reads them from the DAG as the scheduler stores it
    stored = json.dumps(DagSerialization.to_dict(dag), default=str)
    assert f'"examples": {json.dumps([*declared, month])}' in stored


def test_a_manual_run_without_a_month_trains_on_the_latest_month_with_data(platform):
    from modelfleet.registry import db
    from modelfleet.registry.tables import DatasetVersionRow

    # Only the snapshot: it records the month it took. Airflow gives this manual run the
    # last complete interval before now, a month digits has no data for.
    dag = _dag("retrain__digits").partial_subset(task_ids=["snapshot"])
    dag_run = dag.test()
    assert dag_run.run_type == "manual" and dag_run.state == "success"
    with Session(db.engine(platform.database_url)) as session:
        months = session.scalars(
            sa.select(DatasetVersionRow.month).where(DatasetVersionRow.run_id == dag_run.run_id)
        ).all()
    assert months == ["2026-06"]  # digits' source holds 2026-01 to 2026-06


def test_an_imported_month_is_recorded_for_the_form_and_manual_runs(platform, tmp_path):
    from modelfleet.cli import main
    from modelfleet.registry import db
    from modelfleet.registry.store.data_months import recorded_months
    from modelfleet.registry.tables import DataMonthRow
    from tests.helpers.user_folder import write_user_folder

    write_user_folder(tmp_path / "photos", months=("2026-01",), odd_formats=False)
    (platform.home / "workflows.d").mkdir(exist_ok=True)
    wf_file = platform.home / "workflows.d" / "photos.yaml"
    wf_file.write_text(
        "workflows:\n  photos:\n"
        f"    source: {{kind: folder, url: {tmp_path / 'photos'}}}\n"
        "    classes: [china, flower]\n    input_shape: [32, 32, 3]\n"
    )
    try:
        argv = ["data", "import", "photos", str(tmp_path / "photos" / "2026-01")]
        assert main([*argv, "--month", "2026-07"]) == 0
        with Session(db.engine(platform.database_url)) as session:
            assert recorded_months(session)["photos"] == ["2026-07"]
            row = session.get(DataMonthRow, (_workflow_id(session, "photos"), "2026-07"))
            assert row is not None and row.origin == "imported"
    finally:
        wf_file.unlink()
        with Session(db.engine(platform.database_url)) as session, session.begin():
            session.execute(sa.delete(DataMonthRow).where(DataMonthRow.month == "2026-07"))


def _workflow_id(session: Session, name: str) -> int:
    from modelfleet.registry.store.workflows import workflow_id

    return workflow_id(session, name)
