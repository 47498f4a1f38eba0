"""The stream classifier's OpenLineage events: one run event per batch, reading the
version that answered and writing the lake's day; a server that is down stops nothing."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from sqlalchemy.orm import Session

from modelfleet.host.ports import free_port
from modelfleet.naming import (
    Version,
    lineage_ingest_job,
    lineage_predictions_dataset,
    lineage_version_dataset,
)
from modelfleet.registry.store import ingest_files
from tests.integration.conftest import frozen_test_image
from tests.integration.test_retrain_dag import production
from tests.integration.test_stream import ingestor, land, released, sha

pytestmark = [pytest.mark.integration, pytest.mark.slow]
__all__ = ["released"]  # the fixture, imported for pytest


def new_image(angle: int) -> bytes:
    """A digit no other test landed (the stream skips bytes it has stored)."""
    image = Image.open(io.BytesIO(frozen_test_image())).rotate(angle)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_batch_emits_one_run_event_from_the_version_to_the_lake_day(released):
    from modelfleet.registry import db

    run, settings = ingestor()
    events = settings.openlineage_dir / "ingest.jsonl"
    before = events.read_text().splitlines() if events.exists() else []
    data = new_image(33)
    land(settings.landing / "digits", "cam_lineage.png", data)
    assert run.scan_once() == {"stored": 1}
    run.lineage.close()

    (event,) = [json.loads(line) for line in events.read_text().splitlines()[len(before) :]]
    assert event["eventType"] == "COMPLETE"
    assert event["job"]["name"] == lineage_ingest_job("digits")
    version = Version.parse(production(released))
    # the dataset `register` wrote in the retrain's events: the chain goes on from there
    assert [d["name"] for d in event["inputs"]] == [lineage_version_dataset("digits", version)]
    with Session(db.engine(released.database_url)) as session:
        row = ingest_files.ingest_state(session, "digits", sha(data))
    assert row is not None and row.partition_date
    day = row.partition_date
    assert [d["name"] for d in event["outputs"]] == [lineage_predictions_dataset("digits", day)]
    assert event["run"]["facets"]["modelfleet_batch"]["counts"] == {"stored": 1}


def test_an_openlineage_server_that_is_down_holds_no_file_back(released):
    down = f"http://127.0.0.1:{free_port()}"
    run, settings = ingestor(openlineage_url=down)
    path = land(settings.landing / "digits", "cam_lineage_down.png", new_image(47))
    assert run.scan_once() == {"stored": 1}
    assert not path.exists()
    run.lineage.close()
