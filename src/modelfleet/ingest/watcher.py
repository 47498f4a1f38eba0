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

Landing is read as untrusted input (`landing.py`): links, special files and files with
a second hard link are refused unread, recorded once in `landing_reject` and moved into
`landing/<wf>/.rejected/`; an error on one entry is recorded and never stops a scan.
Names are kept as bytes and logged escaped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.config import Fleet
from modelfleet.fileops import private_dir
from modelfleet.ingest.endpoint import Endpoint, EndpointUnavailable
from modelfleet.ingest.files import in_shard, quarantine_file, recent_days, today
from modelfleet.ingest.inspect import inspect_image, too_large
from modelfleet.ingest.lake import Lake, strip_metadata
from modelfleet.ingest.landing import Entry, LandedFile, LandingError, LandingFolder, Refusal
from modelfleet.ingest.landing_watch import LandingWatch
from modelfleet.ingest.notify import Webhooks
from modelfleet.ingest.rejects import Rejects
from modelfleet.registry import db
from modelfleet.registry.store import predictions as store
from modelfleet.registry.store.versions import get_version
from modelfleet.registry.tables import IngestFileRow, PredictionRow
from modelfleet.settings import Settings

log = logging.getLogger("modelfleet.ingest")
# While files keep streaming in, lake manifests are rewritten at most this often.
MANIFEST_EVERY_S = 5.0
# Batches in flight per workflow. Two files with the same bytes in different batches
# are safe: their row is locked, and only the first to record a prediction wins.
PIPELINE = 3


@dataclass
class Landed:
    """A landed file on its way through the states."""

    file: LandedFile
    folder: LandingFolder
    row_id: int = 0
    day: str = ""
    state: str = store.RECEIVED
    answer: dict[str, Any] = field(default_factory=dict)

    @property
    def data(self) -> bytes:
        return self.file.data

    @property
    def sha256(self) -> str:
        return self.file.sha256

    @property
    def raw_name(self) -> bytes:
        return self.file.entry.raw

    @property
    def name(self) -> str:
        """The landing name for people and logs (escaped)."""
        return self.file.entry.display


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
        fleet_loader: Callable[[], Fleet] | None = None,
    ) -> None:
        """`fleet_loader` (the fleet loaded afresh) lets `run_forever` follow workflows
        added to or archived from workflows.d between scans."""
        self.settings = settings
        self.shard = shard
        self.fleet = fleet
        self.fleet_loader = fleet_loader
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
        self.rejects = Rejects(self.engine)

    def scan_once(self, *, flush: bool = True) -> dict[str, int]:
        """Every ready file of every workflow, `PIPELINE` batches in flight at once: while
        one batch waits for the endpoint, another is hashed, checked or written. Then the
        manifests of the partitions written, unless `flush` is False (`run_forever`
        flushes them on its own schedule)."""
        counts: dict[str, int] = {}
        for workflow in self.workflows:
            try:
                folder = LandingFolder.open(self.settings.landing / workflow)
                if folder is None:
                    continue
            except LandingError as exc:
                self.rejects.warn_once(("folder", workflow), str(exc))
                continue
            with folder:
                try:
                    entries = in_shard(folder.entries(), *self.shard)
                except OSError as exc:
                    message = f"{workflow}: cannot list landing: {exc}"
                    self.rejects.warn_once(("list", workflow), message)
                    continue
                size = self.fleet.get(workflow).ingest.batch_size
                batches = [entries[at : at + size] for at in range(0, len(entries), size)]
                days = self._stale_manifests.setdefault(workflow, set())
                with ThreadPoolExecutor(PIPELINE, thread_name_prefix=f"ingest-{workflow}") as pool:
                    jobs = [
                        pool.submit(self.process, workflow, folder, batch, days)
                        for batch in batches
                    ]
                    for done in (job.result() for job in jobs):
                        for state, n in done.items():
                            counts[state] = counts.get(state, 0) + n
        if flush:
            self.flush_manifests()
        return counts

    def follow_fleet(self) -> bool:
        """Load the fleet again; True when its workflows changed (the landing folders
        to watch). A fleet that does not load keeps the one before, with a warning."""
        if self.fleet_loader is None:
            return False
        try:
            fleet = self.fleet_loader()
        except Exception as exc:
            self.rejects.warn_once(("fleet", str(exc)), f"cannot load the fleet: {exc}")
            return False
        if fleet is self.fleet:  # load_fleet returns the same object for unchanged files
            return False
        self.fleet = fleet
        self.webhooks.urls = {
            n: w.ingest.webhook for n, w in fleet.workflows.items() if w.ingest.webhook
        }
        before, self.workflows = self.workflows, sorted(fleet.workflows)
        return before != self.workflows

    def flush_manifests(self) -> None:
        for workflow, days in self._stale_manifests.items():
            self._write_manifests(workflow, days)
            days.clear()

    def process(
        self,
        workflow: str,
        folder: LandingFolder,
        entries: list[Entry],
        days: set[str] | None = None,
    ) -> dict[str, int]:
        """One batch of landing entries of one workflow, each to its final place.
        Adds the lake partitions it wrote to `days` (their manifests are then stale)."""
        counts: dict[str, int] = {}
        landed, refused = self._read(workflow, folder, entries)
        try:
            if refused:
                rejected = self.rejects.handle(workflow, folder, refused)
                if rejected:
                    counts["rejected"] = rejected
            if landed:
                self._walk(workflow, landed, counts, days)
        finally:
            for item in landed:
                item.file.close()
        return counts

    def _walk(
        self, workflow: str, landed: list[Landed], counts: dict[str, int], days: set[str] | None
    ) -> None:
        """The read files of one batch through the states."""

        def count(state: str, n: int = 1) -> None:
            if n:
                counts[state] = counts.get(state, 0) + n

        # 1. received (or found): one transaction for the batch
        finished: list[Landed] = []
        with Session(self.engine) as session, session.begin():
            rows = store.receive(
                session, workflow, [(i.sha256, i.raw_name, i.name) for i in landed], today()
            )
            for item in landed:
                row = rows[item.sha256]
                item.row_id, item.day, item.state = row.id, row.partition_date or today(), row.state
                if row.state in store.FINAL:
                    if bytes(row.original_name_raw) != item.raw_name:  # not our own resumed file
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
            if item.file.handle is not None:  # over the read limit: hashed, never held
                problem = too_large(item.file.size, max_bytes)
            else:
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
        to_store = [i for i in landed if i.state == store.CLASSIFIED]
        self._store(workflow, to_store, count)
        stored = [i for i in to_store if i.state == store.STORED]
        count("stored", len(stored))
        if days is not None:
            days.update(i.day for i in stored)

    def _read(
        self, workflow: str, folder: LandingFolder, entries: list[Entry]
    ) -> tuple[list[Landed], list[Refusal]]:
        """Read the settled regular files of a batch; the other entries are refused."""
        landed: list[Landed] = []
        refused: list[Refusal] = []
        seen: set[str] = set()
        limit = self.fleet.get(workflow).ingest.max_bytes
        now = time.time()
        for entry in entries:
            try:
                result = folder.read(entry, now, limit)
            except Exception as exc:  # one entry never stops the scan, whatever it is
                log.exception("%s %s: cannot be read", workflow, entry.display)
                result = Refusal(entry, "error", f"{type(exc).__name__}: {exc}", 0, 0, False)
            if isinstance(result, Refusal):
                refused.append(result)
            elif result is not None:
                if result.sha256 in seen:  # the same bytes twice in one batch: next scan
                    result.close()
                    continue
                seen.add(result.sha256)
                landed.append(Landed(result, folder))
        return landed, refused

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
                        "source": i.name,
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

    def _store(self, workflow: str, items: list[Landed], count: Callable[..., None]) -> None:
        """Store classified files in the lake. Counts the images quarantined instead (they
        decode but cannot be written back without metadata), and the copies under another
        name that finished a file (the same bytes from another shard, say)."""
        for item in items:
            try:
                clean, ext = strip_metadata(item.data)  # as it arrived where only pixels
            except Exception as exc:
                detail = f"cannot be stored without its metadata: {exc}"
                self._quarantine(workflow, item, "undecodable", detail)
                count("quarantined")
                continue
            path = self.lake.image_path(workflow, item.day, item.sha256, ext)
            self.lake.put(path, clean)
            item.answer["stored_path"] = path
        items = [i for i in items if i.state == store.CLASSIFIED]
        if not items:
            return
        now = datetime.now(UTC)
        with Session(self.engine) as session, session.begin():
            # Only rows still `classified`: the same bytes under another name (another
            # shard) or a resumed file may have been stored meanwhile.
            mine = store.lock_in_state(session, [i.row_id for i in items], store.CLASSIFIED)
            todo = [i for i in items if i.row_id in mine]
            count("duplicate", store.count_copies(session, {i.row_id: i.raw_name for i in todo}))
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
        if item.folder.remove_if_unchanged(item.file.entry, item.file.identity) == "changed":
            log.info("%s changed since it was read; left for the next scan", item.name)

    def _quarantine(self, workflow: str, item: Landed, code: str, detail: str) -> None:
        reason = {
            "reason": code,
            "detail": detail,
            "workflow": workflow,
            "sha256": item.sha256,
            "original_name": item.name,
            "original_name_hex": item.raw_name.hex(),
            "bytes": item.file.size,
            "quarantined_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        root = self.settings.quarantine
        content = item.data if item.file.handle is None else item.file.handle
        target = quarantine_file(root, root / workflow / item.day, item.sha256, content, reason)
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
        log.info("%s %s: quarantined (%s: %s)", workflow, item.name, code, detail)

    def _event(self, workflow: str, item: Landed, state: str) -> dict[str, Any]:
        event: dict[str, Any] = {
            "event": state,
            "workflow": workflow,
            "sha256": item.sha256,
            "source": item.name,
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
        private_dir(self.settings.quarantine)  # made by an earlier version with other modes
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
                if self.follow_fleet():  # a workflow added or archived: watch what is declared
                    watch.close()
                    watch = LandingWatch(
                        [self.settings.landing / wf for wf in self.workflows], self.wake
                    )
                    watch.arm()
                    self.webhooks.start()
                    log.info("now watching for %s", ", ".join(self.workflows))
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
