"""One OpenLineage run event per batch the stream classifier handled (openlineage-python).

The event's job is `ingest__<wf>`; it reads the model version that answered
(`<wf>@vX.Y.Z`, the dataset `register` wrote in the retrain's events) and writes the
day's lake partition of predictions: the end of the chain month -> ... -> predictions.

Events go out on a thread of their own through a bounded queue, so a slow or failing
transport (a Marquez that hangs, a full disk) never holds or fails a batch: a failed
send is logged once per run of failures, and events beyond the queue are dropped
(and counted in the log).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable
from datetime import datetime, timezone
from functools import partial
from typing import Any

import attr
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import RunFacet
from openlineage.client.uuid import generate_new_uuid

from modelfleet.naming import (
    LINEAGE_NAMESPACE,
    Version,
    lineage_facet_schema,
    lineage_ingest_job,
    lineage_predictions_dataset,
    lineage_version_dataset,
)
from modelfleet.settings import Settings

log = logging.getLogger("modelfleet.ingest.lineage")
PRODUCER = "https://github.com/modelfleet/modelfleet"
BATCH_FACET = "modelfleet_batch"
QUEUE_LIMIT = 1000  # events waiting for the transport; more are dropped


@attr.define
class ModelfleetBatchFacet(RunFacet):
    """What became of one batch's files: counts by state (stored, quarantined, retry...)."""

    workflow: str
    counts: dict[str, int]

    _get_schema = staticmethod(partial(lineage_facet_schema, BATCH_FACET))


def batch_event(
    workflow: str, versions: Iterable[str], days: Iterable[str], counts: dict[str, int]
) -> RunEvent:
    """The run event of one batch: the versions that answered in, the lake days out."""
    inputs = [
        InputDataset(LINEAGE_NAMESPACE, lineage_version_dataset(workflow, Version.parse(v)))
        for v in sorted(set(versions))
    ]
    outputs = [
        OutputDataset(LINEAGE_NAMESPACE, lineage_predictions_dataset(workflow, day))
        for day in sorted(set(days))
    ]
    facet = ModelfleetBatchFacet(workflow, dict(counts), producer=PRODUCER)
    return RunEvent(
        eventType=RunState.COMPLETE,
        eventTime=datetime.now(timezone.utc).isoformat(),  # noqa: UP017
        producer=PRODUCER,
        run=Run(runId=str(generate_new_uuid()), facets={BATCH_FACET: facet}),
        job=Job(namespace=LINEAGE_NAMESPACE, name=lineage_ingest_job(workflow)),
        inputs=inputs,
        outputs=outputs,
    )


class BatchLineage:
    """Sends batch events off the stream's threads. `transport` None: does nothing."""

    def __init__(self, transport: dict[str, Any] | None) -> None:
        self._client: OpenLineageClient | None = None
        if transport is not None:
            try:
                self._client = OpenLineageClient(config={"transport": transport})
            except Exception as exc:  # a bad transport must not stop the stream
                log.warning("OpenLineage is off for the stream: transport %s: %s", transport, exc)
        self._queue: queue.Queue[RunEvent | None] = queue.Queue(maxsize=QUEUE_LIMIT)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._failing = False
        self._dropped = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> BatchLineage:
        transport = settings.openlineage_transport("ingest")
        if transport is not None and transport["type"] == "file":
            settings.openlineage_dir.mkdir(parents=True, exist_ok=True)  # the transport won't
        return cls(transport)

    def batch(
        self, workflow: str, versions: Iterable[str], days: Iterable[str], counts: dict[str, int]
    ) -> None:
        """Queue the event of one batch; never raises, never waits."""
        if self._client is None:
            return
        try:
            event = batch_event(workflow, versions, days, counts)
            self._start()
            self._queue.put_nowait(event)
        except queue.Full:
            self._dropped += 1
            if self._dropped == 1 or self._dropped % QUEUE_LIMIT == 0:
                log.warning(
                    "OpenLineage: %d batch events dropped (transport behind)", self._dropped
                )
        except Exception as exc:
            log.warning("OpenLineage: no event for a %s batch: %s", workflow, exc)

    def flush(self) -> None:
        """Wait until every queued event was sent or given up on."""
        if self._thread is not None:
            self._queue.join()

    def close(self, timeout_s: float = 10.0) -> None:
        """Send what is queued (for at most `timeout_s`), then stop the thread."""
        if self._thread is None:
            return
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            return  # the daemon thread ends with the process
        self._thread.join(timeout_s)
        self._thread = None

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._send_all, name="openlineage", daemon=True
                )
                self._thread.start()

    def _send_all(self) -> None:
        assert self._client is not None
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                self._send(event)
            finally:
                self._queue.task_done()

    def _send(self, event: RunEvent) -> None:
        assert self._client is not None
        try:
            self._client.emit(event)
        except Exception as exc:
            if not self._failing:
                log.warning("OpenLineage: cannot send batch events (will keep trying): %s", exc)
            self._failing = True
            return
        if self._failing:
            log.info("OpenLineage: batch events are sent again")
            self._failing = False
