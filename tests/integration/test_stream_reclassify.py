"""`reclassify__digits` through Airflow's dag.test(): images that went through the real
stream classifier are classified again by an older version over the live endpoint.
The old prediction rows stay, the new ones are linked to that version, a second run
adds nothing, and the reclassify application ends back on production."""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy.orm import Session

from modelfleet.registry.api_keys import RECLASSIFY_APP
from modelfleet.registry.store import applications, ingest_files, predictions, versions
from modelfleet.registry.store.lineage import prediction_lineage
from modelfleet.registry.tables import PredictionRow
from tests.integration.conftest import all_versions, eventually, loaded
from tests.integration.test_retrain_dag import production, run_dag

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DAG_ID = "reclassify__digits"


@pytest.fixture(scope="module")
def unloaded_version(served) -> str:
    """A version of digits the endpoint does not serve until something pins it."""
    spare = [v for v in all_versions(served) if v not in loaded(served)]
    if not spare:  # run alone, digits has two versions and the policy keeps both
        state, tasks = run_dag("2026-03")
        assert state == "success", tasks
        spare = [v for v in all_versions(served) if v not in loaded(served)]
    assert spare, f"no unloaded version of digits: {all_versions(served)}"
    return spare[0]


@pytest.fixture(scope="module")
def ingested(served, unloaded_version) -> dict[str, str]:
    """A few frozen test images through the real stream classifier: {sha256: name}."""
    from modelfleet.config import load_fleet
    from modelfleet.datasets.manifest import sha256_bytes
    from modelfleet.datasets.sources import source_for
    from modelfleet.ingest.watcher import Ingestor
    from modelfleet.settings import get_settings

    settings = get_settings()
    landing = settings.landing / "digits"
    landing.mkdir(parents=True, exist_ok=True)
    images = {}
    for i, sample in enumerate(source_for(load_fleet().get("digits")).test_set()[20:24]):
        name = f"reclassify_cam_{i}.png"
        path = landing / name
        path.write_bytes(sample.data)
        settled = time.time() - 10
        os.utime(path, (settled, settled))
        images[sha256_bytes(sample.data)] = name
    Ingestor(settings, load_fleet(), served.database_url).scan_once()
    return images


def run_reclassify(conf: dict) -> tuple[str, dict[str, str]]:
    """Run `reclassify__digits` with dag.test(); return the run state and task states."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.session import create_session

    dag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).get_dag(DAG_ID)
    dag_run = dag.test(run_conf=conf)
    with create_session() as session:
        states = {ti.task_id: ti.state for ti in dag_run.get_task_instances(session=session)}
    return dag_run.state, states


def reclassify_pin(session: Session) -> str:
    return applications.get_application(session, RECLASSIFY_APP).grants["digits"]


def rows_of(session: Session, version_id: int) -> int:
    return session.query(PredictionRow).filter_by(model_version_id=version_id).count()


def test_an_older_version_reclassifies_the_stored_images_and_keeps_the_old_rows(
    served, unloaded_version, ingested
):
    from modelfleet.registry import db

    current, older = production(served), unloaded_version
    assert older not in loaded(served)
    engine = db.engine(served.database_url)
    with Session(engine) as session:
        stored = {sha: ingest_files.ingest_state(session, "digits", sha) for sha in ingested}
        assert {row.state for row in stored.values()} == {"stored"}, stored
        days = {row.partition_date for row in stored.values()}
        older_id = versions.get_version(session, "digits", older).id
        assert reclassify_pin(session) == "production"

    state, tasks = run_reclassify({"version": older})
    assert state == "success", tasks
    assert tasks == dict.fromkeys(["pin", "wait_loaded", "reclassify", "unpin"], "success")
    assert eventually(lambda: older not in loaded(served))  # unpinned: let go

    with Session(engine) as session:
        for sha, name in ingested.items():
            rows = predictions.find_predictions(session, sha)
            assert [r.version for r in rows] == [current, older], rows
            ingest_row, new = rows
            assert ingest_row.source == name  # the stream classifier's row, untouched
            assert new.source.startswith("reclassify:") and new.source.endswith(f":{name}")
            assert new.stored_path == stored[sha].final_path
            assert set(new.label) <= set("0123456789") and 0 < new.score <= 1

            chain = prediction_lineage(session, sha)
            assert chain["prediction"]["earlier_predictions"] == 1
            assert chain["model_version"]["version"] == older
            assert chain["training_run"]["dag_id"] == "retrain__digits"
        # The lake's manifest keeps the stream classifier's prediction.
        for day in days:
            manifest = {
                r["sha256"]: r for r in ingest_files.partition_manifest(session, "digits", day)
            }
            assert {manifest[s]["model_version"] for s in ingested if s in manifest} == {current}
        assert reclassify_pin(session) == "production"
        written = rows_of(session, older_id)

    # Again, over the images' own day: every image already has a row of this version.
    (day,) = days
    state, tasks = run_reclassify({"version": older, "first_day": day, "last_day": day})
    assert state == "success", tasks
    with Session(engine) as session:
        assert rows_of(session, older_id) == written
        assert all(len(predictions.find_predictions(session, s)) == 2 for s in ingested)
        assert reclassify_pin(session) == "production"


def test_each_promotion_updates_the_production_asset_with_its_version(served):
    import sqlalchemy as sa
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.execute(
            sa.select(AssetEvent.extra, AssetEvent.source_task_id)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == "modelfleet://digits/production")
            .order_by(AssetEvent.id)
        ).all()
    # One event per release that passed smoke (other tests may have released more).
    assert events and {task for _, task in events} == {"smoke"}
    assert all(set(extra) == {"version"} for extra, _ in events)
    assert {extra["version"] for extra, _ in events} <= set(all_versions(served))


def test_a_promotion_event_names_the_version_to_reclassify_with():
    from types import SimpleNamespace

    from modelfleet.orchestration.dag_factory import _reclassify_version, production_asset

    asset = production_asset("digits")
    promoted = {asset: [SimpleNamespace(extra={"version": "v1.1.0"})]}
    run = {"params": {"version": "production"}, "triggering_asset_events": promoted}
    assert _reclassify_version(run) == "v1.1.0"
    assert _reclassify_version({**run, "params": {"version": "v1.0.0"}}) == "v1.0.0"
    assert _reclassify_version({"params": {"version": "production"}}) == "production"


def test_an_unknown_version_fails_at_pin_and_changes_nothing(served):
    from modelfleet.registry import db

    with Session(db.engine(served.database_url)) as session:
        before = session.query(PredictionRow).count()
    state, tasks = run_reclassify({"version": "v9.9.9"})
    assert state == "failed", tasks
    assert tasks["pin"] == "failed"
    assert tasks["reclassify"] == "upstream_failed"
    with Session(db.engine(served.database_url)) as session:
        assert session.query(PredictionRow).count() == before
        assert reclassify_pin(session) == "production"
