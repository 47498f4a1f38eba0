"""The stream's per-batch OpenLineage events: their names, a server that receives them,
and a transport that fails."""

from __future__ import annotations

import dataclasses
import json
import logging

from modelfleet.host.ports import free_port
from modelfleet.ingest.lineage_events import BATCH_FACET, BatchLineage, batch_event
from modelfleet.naming import LINEAGE_NAMESPACE
from modelfleet.settings import get_settings
from tests.helpers.lineage_server import lineage_server


def test_a_batch_event_reads_the_version_and_writes_the_lake_days():
    event = batch_event("digits", ["v1.2.0", "v1.2.0"], ["2026-02-14"], {"stored": 3})
    assert event.job.namespace == LINEAGE_NAMESPACE and event.job.name == "ingest__digits"
    assert [d.name for d in event.inputs] == ["digits@v1.2.0"]
    assert [d.name for d in event.outputs] == ["digits/predictions/2026-02-14"]
    assert event.run.facets[BATCH_FACET].counts == {"stored": 3}


def test_the_file_transport_gets_one_json_line_per_batch(tmp_path):
    path = tmp_path / "ingest.jsonl"
    lineage = BatchLineage({"type": "file", "log_file_path": str(path), "append": True})
    lineage.batch("digits", ["v1.0.0"], ["2026-01-03"], {"stored": 1})
    lineage.batch("digits", [], [], {"retry": 2})
    lineage.close()
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["job"]["name"] for e in events] == ["ingest__digits"] * 2
    assert events[0]["inputs"][0]["name"] == "digits@v1.0.0"
    assert events[1]["run"]["facets"][BATCH_FACET]["counts"] == {"retry": 2}


def test_with_a_server_url_each_batch_is_posted_to_its_lineage_endpoint():
    with lineage_server() as (url, received):
        settings = dataclasses.replace(get_settings(), openlineage_url=url)
        lineage = BatchLineage(settings.openlineage_transport("ingest"))
        lineage.batch("digits", ["v1.0.0"], ["2026-01-03"], {"stored": 2})
        lineage.flush()
        lineage.close()
    ((path, event),) = received
    assert path == "/api/v1/lineage" and event["job"]["name"] == "ingest__digits"
    assert event["run"]["facets"][BATCH_FACET]["counts"] == {"stored": 2}


def test_a_server_that_is_down_is_logged_once_and_never_raises(caplog):
    down = f"http://127.0.0.1:{free_port()}"
    settings = dataclasses.replace(get_settings(), openlineage_url=down)
    lineage = BatchLineage(settings.openlineage_transport("ingest"))
    with caplog.at_level(logging.WARNING, logger="modelfleet.ingest.lineage"):
        for _ in range(3):
            lineage.batch("digits", ["v1.0.0"], ["2026-01-03"], {"stored": 1})
        lineage.flush()
        lineage.close()
    warnings = [r.getMessage() for r in caplog.records if r.name == "modelfleet.ingest.lineage"]
    assert len(warnings) == 1 and "cannot send batch events" in warnings[0], warnings


def test_off_sends_nothing(tmp_path):
    lineage = BatchLineage(None)
    lineage.batch("digits", ["v1.0.0"], ["2026-01-03"], {"stored": 1})
    lineage.close()
    assert list(tmp_path.iterdir()) == []
