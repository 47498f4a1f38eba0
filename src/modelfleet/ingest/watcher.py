"""`modelfleet ingest`: classify every image that lands, store it, lose nothing.

Each file (keyed by workflow and sha256) walks, in `ingest_file`:

    received -> classified -> stored          or     received -> quarantined

and every step commits before the next side effect:
1. `received`: the row is inserted (or found and locked) before anything else.
2. `quarantined`: the copy and its JSON reason are written, then the row commits.
3. `classified`: the prediction row and the state commit together, so a file is
   classified at most once per content, whatever crashes later.
4. `stored`: the image goes to the lake (EXIF stripped), then the row commits.
5. Only then is the landing file deleted.

A crash anywhere leaves the landing file and a row that says where to resume;
every step is idempotent (fixed names in the lake and the quarantine). The same
bytes arriving again are counted as a duplicate and deleted from landing, never
classified again. Files go to the endpoint in batches (V2 protocol, BYTES), with
the ingest application's key and pin.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet import db
from modelfleet.config import Fleet
from modelfleet.datasets.manifest import sha256_bytes
from modelfleet.ingest.files import (
    in_shard,
    quarantine_file,
    ready_files,
    recent_days,
    today,
)
from modelfleet.ingest.inspect import inspect_image
from modelfleet.ingest.lake import FileIdentity, Lake, strip_metadata
from modelfleet.ingest.landing_watch import LandingWatch
from modelfleet.ingest.metadata import pixels_only
from modelfleet.ingest.notify import Webhooks
from modelfleet.platform.api_keys import INGEST_APP, auth_headers
from modelfleet.registry.store import predictions as store
from modelfleet.registry.store.versions import get_version
from modelfleet.registry.tables import IngestFileRow, PredictionRow
from modelfleet.serving.v2_client import answers, images_request
from modelfleet.settings import Settings

log = logging.getLogger("modelfleet.ingest")
# While files keep streaming in, lake manifests are rewritten at most this often.
MANIFEST_EVERY_S = 5.0
# Batches in flight per workflow. Two files with the same bytes in different batches
# are safe: their row is locked, and only the first to record a prediction wins.
PIPELINE = 3


class EndpointUnavailable(Exception):
    """The endpoint cannot answer now; the files stay in landing and are retried."""


@dataclass
class Landed:
    path: Path
    data: bytes
    sha256: str
    identity: FileIdentity | None = None  # of the file as it was read
    row_id: int = 0
    day: str = ""
    state: str = store.RECEIVED
    answer: dict[str, Any] = field(default_factory=dict)


class Endpoint:
    """The prediction endpoint as the stream classifier uses it."""

    def __init__(self, settings: Settings) -> None:
        self.client = httpx.Client(
            base_url=settings.endpoint_url, headers=auth_headers(settings, INGEST_APP), timeout=60
        )
        self._classes: dict[tuple[str, str], list[str]] = {}

    def classify(self, workflow: str, images: list[bytes]) -> list[dict[str, Any]]:
        """One request for the batch: [{label, score, scores, model_version}] per image."""
        reply = self._send(
            "POST", f"/v2/models/{workflow}/infer", json=images_request(images)
        ).json()
        version = reply["model_version"]
        return [
            {**answer, "model_version": version}
            for answer in answers(reply, self._classes_of(workflow, version))
        ]

    def _classes_of(self, workflow: str, version: str) -> list[str]:
        key = (workflow, version)
        if key not in self._classes:
            meta = self._send("GET", f"/v2/models/{workflow}/versions/{version}").json()
            self._classes[key] = meta["parameters"]["classes"]
        return self._classes[key]

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise EndpointUnavailable(f"endpoint unreachable: {exc}") from None
        if response.status_code >= 500 or response.status_code in (401, 403, 404):
            # Down, not ready, or misconfigured keys: the files are fine; wait.
            raise EndpointUnavailable(
                f"endpoint answered {response.status_code}: {response.text[:300]}"
            )
        if response.status_code >= 400:
            raise ValueError(response.json().get("error", response.text))
        return response


class Ingestor:
    """The stream classifier. With `shard` (index, count), one of `count` processes
    sharing the landing folders: it takes the files whose name hashes to `index`."""

    def __init__(
        self,
        settings: Settings,
        fleet: Fleet,
        database_url: str,
        *,
        shard: tuple[int, int] = (0, 1),
    ) -> None:
        self.settings = settings
        self.shard = shard
        self.fleet = fleet
        self.workflows = sorted(fleet.workflows)
        self.engine = db.engine(database_url)
        self.endpoint = Endpoint(settings)
        self.lake = Lake(settings.lake_url)
        self.webhooks = Webhooks(
            {n: w.ingest.webhook for n, w in fleet.workflows.items() if w.ingest.webhook},
            self.engine,
        )
        self.wake = threading.Event()
        self._stale_manifests: dict[str, set[str]] = {}  # workflow -> lake days written

    def scan_once(self, *, flush: bool = True) -> dict[str, int]:
        """Every ready file of every workflow, `PIPELINE` batches in flight at once: while
        one batch waits for the endpoint, another is hashed, checked or written. Then the
        manifests of the partitions written, unless `flush` is False (`run_forever`
        flushes them on its own schedule)."""
        counts: dict[str, int] = {}
        for workflow in self.workflows:
            size = self.fleet.get(workflow).ingest.batch_size
            files = in_shard(ready_files(self.settings.landing / workflow), *self.shard)
            batches = [files[start : start + size] for start in range(0, len(files), size)]
            days = self._stale_manifests.setdefault(workflow, set())
            with ThreadPoolExecutor(PIPELINE, thread_name_prefix=f"ingest-{workflow}") as pool:
                jobs = [pool.submit(self.process, workflow, batch, days) for batch in batches]
                for done in (job.result() for job in jobs):
                    for state, n in done.items():
                        counts[state] = counts.get(state, 0) + n
        if flush:
            self.flush_manifests()
        return counts

    def flush_manifests(self) -> None:
        for workflow, days in self._stale_manifests.items():
            self._write_manifests(workflow, days)
            days.clear()

    def process(
        self, workflow: str, paths: list[Path], days: set[str] | None = None
    ) -> dict[str, int]:
        """One batch of landed files of one workflow, each to its final place.
        Adds the lake partitions it wrote to `days` (their manifests are then stale)."""
        counts: dict[str, int] = {}

        def count(state: str, n: int = 1) -> None:
            if n:
                counts[state] = counts.get(state, 0) + n

        landed = self._read(paths)
        if not landed:
            return counts

        # 1. received (or found): one transaction for the batch
        finished: list[Landed] = []
        with Session(self.engine) as session, session.begin():
            rows = store.receive(
                session, workflow, [(i.sha256, i.path.name) for i in landed], today()
            )
            for item in landed:
                row = rows[item.sha256]
                item.row_id, item.day, item.state = row.id, row.partition_date or today(), row.state
                if row.state in store.FINAL:
                    if row.original_name != item.path.name:  # not our own resumed file
                        row.duplicates += 1
                        count("duplicate")
                    finished.append(item)
        for item in finished:
            self._leave_landing(item)

        # 2. quarantine what is not a usable image
        max_bytes = self.fleet.get(workflow).ingest.max_bytes
        to_classify = []
        for item in landed:
            if item.state != store.RECEIVED:
                continue
            problem = inspect_image(item.data, max_bytes)
            if problem is None:
                to_classify.append(item)
            else:
                self._quarantine(workflow, item, problem.code, problem.detail)
                count("quarantined")

        # 3. classify in one request; predictions and state commit together
        if to_classify:
            try:
                count("quarantined", self._classify(workflow, to_classify))
            except EndpointUnavailable as exc:
                log.warning(
                    "%s: %d files wait for the endpoint: %s", workflow, len(to_classify), exc
                )
                count("retry", len(to_classify))

        # 4. store in the lake, commit, then leave landing
        stored = [i for i in landed if i.state == store.CLASSIFIED]
        self._store(workflow, stored)
        count("stored", len(stored))
        if days is not None:
            days.update(i.day for i in stored)
        return counts

    def _read(self, paths: list[Path]) -> list[Landed]:
        landed, seen = [], set()
        for path in paths:
            try:
                with path.open("rb") as handle:
                    data = handle.read()
                    seen_as = FileIdentity.of(os.fstat(handle.fileno()))
                identity = seen_as if seen_as.size == len(data) else None  # grew while read
            except FileNotFoundError:
                continue  # another watcher finished it
            sha = sha256_bytes(data)
            if sha not in seen:  # the same bytes twice in one batch: the next scan has it
                seen.add(sha)
                landed.append(Landed(path, data, sha, identity))
        return landed

    def _classify(self, workflow: str, items: list[Landed]) -> int:
        """Classify and record; returns how many files the endpoint refused (quarantined)."""
        try:
            self._record_predictions(
                workflow, items, self.endpoint.classify(workflow, [i.data for i in items])
            )
            return 0
        except ValueError:
            pass
        refused = 0  # the endpoint refused the batch (4xx): find the file it refuses, alone
        for item in items:
            try:
                answers = self.endpoint.classify(workflow, [item.data])
            except ValueError as exc:
                self._quarantine(workflow, item, "undecodable", f"endpoint refused it: {exc}")
                refused += 1
                continue
            self._record_predictions(workflow, [item], answers)
        return refused

    def _record_predictions(self, workflow: str, items: list[Landed], answers: list[dict]) -> None:
        now = datetime.now(UTC)
        with Session(self.engine) as session, session.begin():
            # Only rows still `received`: a second watcher may have got there first.
            open_ids = store.lock_in_state(session, [i.row_id for i in items], store.RECEIVED)
            version_ids = {
                name: get_version(session, workflow, name).id
                for name in {a["model_version"] for a in answers}
            }
            todo = [(i, a) for i, a in zip(items, answers, strict=True) if i.row_id in open_ids]
            prediction_ids = store.add_predictions(
                session,
                [
                    {
                        "model_version_id": version_ids[a["model_version"]],
                        "image_sha256": i.sha256,
                        "label": a["label"],
                        "score": a["score"],
                        "scores": a["scores"],
                        "source": i.path.name,
                        "stored_path": None,
                    }
                    for i, a in todo
                ],
            )
            store.update_files(
                session,
                [
                    {
                        "id": i.row_id,
                        "state": store.CLASSIFIED,
                        "prediction_id": pid,
                        "classified_at": now,
                    }
                    for (i, _), pid in zip(todo, prediction_ids, strict=True)
                ],
            )
        for item, answer in todo:
            item.state, item.answer = store.CLASSIFIED, dict(answer)
        for item in items:
            if item.row_id not in open_ids:
                item.state = (
                    "elsewhere"  # finished by another watcher; its copy stays for the next scan
                )

    def _store(self, workflow: str, items: list[Landed]) -> None:
        if not items:
            return
        for item in items:
            ext = pixels_only(item.data)
            if ext is not None and item.identity is not None:  # stored as it arrived
                path = self.lake.image_path(workflow, item.day, item.sha256, ext)
                self.lake.put_landed(path, item.path, item.data, item.identity)
            else:
                clean, ext = strip_metadata(item.data)
                path = self.lake.image_path(workflow, item.day, item.sha256, ext)
                self.lake.put(path, clean)
            item.answer["stored_path"] = path
        now = datetime.now(UTC)
        with Session(self.engine) as session, session.begin():
            # Only rows still `classified`: the same bytes under another name (another
            # shard) or a resumed file may have been stored meanwhile.
            mine = store.lock_in_state(session, [i.row_id for i in items], store.CLASSIFIED)
            todo = [i for i in items if i.row_id in mine]
            resumed = {i.row_id: i for i in todo if "label" not in i.answer}
            for row_id, answer in store.answers_of(session, list(resumed)).items():
                resumed[row_id].answer.update(answer)
            store.update_files(
                session,
                [
                    {
                        "id": i.row_id,
                        "state": store.STORED,
                        "final_path": i.answer["stored_path"],
                        "stored_at": now,
                    }
                    for i in todo
                ],
            )
            session.execute(
                sa.update(PredictionRow)
                .where(PredictionRow.id == IngestFileRow.prediction_id)
                .where(IngestFileRow.id.in_([i.row_id for i in todo]))
                .values(stored_path=IngestFileRow.final_path)
            )
            events = [self._event(workflow, i, store.STORED) for i in todo]
            store.notify_many(session, events)
            self.webhooks.enqueue(session, workflow, events)
        self.webhooks.committed()
        for item in items:  # stored now, or by whoever finished it: landing is done
            item.state = store.STORED
            self._leave_landing(item)

    def _leave_landing(self, item: Landed) -> None:
        """Delete the landing file, the last step, unless it was replaced or rewritten
        since it was read: then it is new content, for the next scan."""
        try:
            now = FileIdentity.of(os.stat(item.path))
        except FileNotFoundError:
            return
        if item.identity is not None and now != item.identity:
            log.info("%s changed since it was read; left for the next scan", item.path.name)
            return
        item.path.unlink(missing_ok=True)

    def _quarantine(self, workflow: str, item: Landed, code: str, detail: str) -> None:
        reason = {
            "reason": code,
            "detail": detail,
            "workflow": workflow,
            "sha256": item.sha256,
            "original_name": item.path.name,
            "bytes": len(item.data),
            "quarantined_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        folder = self.settings.quarantine / workflow / item.day
        target = quarantine_file(folder, item.sha256, item.path.name, item.data, reason)
        event = {**self._event(workflow, item, store.QUARANTINED), "reason": code, "detail": detail}
        with Session(self.engine) as session, session.begin():
            store.update_files(
                session,
                [
                    {
                        "id": item.row_id,
                        "state": store.QUARANTINED,
                        "reason_code": code,
                        "reason": detail,
                        "final_path": str(target),
                    }
                ],
            )
            store.notify_many(session, [event])
            self.webhooks.enqueue(session, workflow, [event])
        self.webhooks.committed()
        item.state = store.QUARANTINED
        self._leave_landing(item)
        log.info("%s %s: quarantined (%s: %s)", workflow, item.path.name, code, detail)

    def _event(self, workflow: str, item: Landed, state: str) -> dict[str, Any]:
        event: dict[str, Any] = {
            "event": state,
            "workflow": workflow,
            "sha256": item.sha256,
            "source": item.path.name,
        }
        if item.answer:
            event.update(
                label=item.answer.get("label"),
                score=item.answer.get("score"),
                model_version=item.answer.get("model_version"),
                path=item.answer.get("stored_path"),
            )
        return event

    def _write_manifests(self, workflow: str, days: set[str]) -> None:
        for day in sorted(days):
            # One writer per partition at a time (other shards, other watchers): each
            # reads Postgres and renames its file while holding the lock, so the last
            # manifest written is also the newest.
            with Session(self.engine) as session, session.begin():
                store.lock_partition(session, workflow, day)
                rows = store.partition_manifest(session, workflow, day)
                if rows:  # stored rows are never removed: an empty partition has no images
                    self.lake.write_manifest(workflow, day, rows)

    def run_forever(self, rescan_s: float = 2.0, stop: threading.Event | None = None) -> None:
        """Scan until `stop`: at once again while scans find files; when idle, wait for
        inotify (watchdog) or `rescan_s`, the fallback."""
        stop = stop or threading.Event()
        watch = LandingWatch([self.settings.landing / wf for wf in self.workflows], self.wake)
        watch.arm()
        self.webhooks.start()  # with what a previous watcher left in the outbox
        backoff = rescan_s
        log.info("watching %s for %s", self.settings.landing, ", ".join(self.workflows))
        # A previous watcher killed between a batch and its flush left these stale, and
        # one killed between a lake write and its rename left a temporary file.
        days = recent_days()
        for workflow in self.workflows:
            self._stale_manifests.setdefault(workflow, set()).update(days)
            for day in days:
                self.lake.sweep_temporaries(workflow, day)
        flushed = time.monotonic()
        try:
            while not stop.is_set():
                counts = self.scan_once(flush=False)
                if any(counts.values()):
                    log.info("%s", ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
                # Manifests are rewritten from Postgres (the whole partition), so not
                # after every small scan while files stream in: when the stream pauses,
                # and at least every MANIFEST_EVERY_S.
                if not counts or time.monotonic() - flushed >= MANIFEST_EVERY_S:
                    self.flush_manifests()
                    flushed = time.monotonic()
                if counts and not counts.get("retry"):
                    watch.disarm()  # busy: scan again at once
                    continue
                if not watch.armed:
                    watch.arm()  # then one more scan for what landed while disarmed
                    continue
                # Back off while the endpoint is down (up to 30 s); files wait in landing.
                backoff = min(backoff * 2, 30.0) if counts.get("retry") else rescan_s
                self.wake.wait(backoff)
                self.wake.clear()
        finally:
            watch.close()
            self.flush_manifests()
            self.webhooks.close()
