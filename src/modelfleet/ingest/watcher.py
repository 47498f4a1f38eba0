"""`modelfleet ingest`: classify every image that lands, store it, lose nothing.

Each file (keyed by workflow and sha256) walks

    received -> classified -> stored          or     received -> quarantined

through the parts of this package, which the `Ingestor` here runs in a loop:

    scan.py      what is ready: this watcher's settled files, read in batches
    rejects.py   the landing entries refused (links, special files, ...)
    classify.py  the endpoint's answers, finding the files it refuses
    store.py     where files end (lake, quarantine) and the rows that say so, each
                 committed before the next side effect (crash safety)
    notify.py    NOTIFY and webhooks for each file that ends

The same bytes arriving again are counted as a duplicate and deleted from landing,
never classified again. Landing is read as untrusted input (`landing.py`): an error on
one entry is recorded and never stops a scan.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from modelfleet.config import Fleet
from modelfleet.endpoint_client import EndpointClient, EndpointUnavailable
from modelfleet.fileops import private_dir
from modelfleet.ingest.classify import Refused, classify
from modelfleet.ingest.files import recent_days
from modelfleet.ingest.inspect import inspect_image, too_large
from modelfleet.ingest.landing import Entry, LandingFolder
from modelfleet.ingest.landing_watch import LandingWatch
from modelfleet.ingest.lineage_events import BatchLineage
from modelfleet.ingest.notify import Webhooks
from modelfleet.ingest.rejects import Rejects
from modelfleet.ingest.scan import Landed, batches, open_folder, read_batch
from modelfleet.ingest.store import FileStore
from modelfleet.lake import Lake
from modelfleet.registry import db
from modelfleet.registry.api_keys import INGEST_APP
from modelfleet.registry.store import ingest_files as rows
from modelfleet.settings import Settings

log = logging.getLogger("modelfleet.ingest")
# While files keep streaming in, lake manifests are rewritten at most this often.
MANIFEST_EVERY_S = 5.0
# Batches in flight per workflow. Two files with the same bytes in different batches
# are safe: their row is locked, and only the first to record a prediction wins.
PIPELINE = 3
ENDPOINT_TIMEOUT_S = 60.0


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
        self.endpoint = EndpointClient.for_app(settings, INGEST_APP, timeout=ENDPOINT_TIMEOUT_S)
        self.lake = Lake(settings.lake_url)
        self.webhooks = Webhooks(
            {n: w.ingest.webhook for n, w in fleet.workflows.items() if w.ingest.webhook},
            self.engine,
        )
        self.files = FileStore(self.engine, self.lake, settings.quarantine, self.webhooks)
        self.wake = threading.Event()
        self._stale_manifests: dict[str, set[str]] = {}  # workflow -> lake days written
        self.rejects = Rejects(self.engine)
        self.lineage = BatchLineage.from_settings(settings)  # one event per batch

    def scan_once(self, *, flush: bool = True) -> dict[str, int]:
        """Every ready file of every workflow, `PIPELINE` batches in flight at once: while
        one batch waits for the endpoint, another is hashed, checked or written. Then the
        manifests of the partitions written, unless `flush` is False (`run_forever`
        flushes them on its own schedule)."""
        counts: dict[str, int] = {}
        for workflow in self.workflows:
            folder = open_folder(self.settings.landing, workflow, self.rejects.warn_once)
            if folder is None:
                continue
            with folder:
                size = self.fleet.get(workflow).ingest.batch_size
                todo = batches(folder, workflow, self.shard, size, self.rejects.warn_once)
                days = self._stale_manifests.setdefault(workflow, set())
                with ThreadPoolExecutor(PIPELINE, thread_name_prefix=f"ingest-{workflow}") as pool:
                    jobs = [
                        pool.submit(self.process, workflow, folder, batch, days) for batch in todo
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
            self.files.write_manifests(workflow, days)
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
        limit = self.fleet.get(workflow).ingest.max_bytes
        landed, refused = read_batch(workflow, folder, entries, limit)
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
        self.files.receive(workflow, landed, count)

        # 2. quarantine what is not a usable image
        max_bytes = self.fleet.get(workflow).ingest.max_bytes
        to_classify = []
        for item in landed:
            if item.state != rows.RECEIVED:
                continue
            if item.file.handle is not None:  # over the read limit: hashed, never held
                problem = too_large(item.file.size, max_bytes)
            else:
                problem = inspect_image(item.data, max_bytes)
            if problem is None:
                to_classify.append(item)
            else:
                self.files.quarantine(workflow, item, problem.code, problem.detail)
                count("quarantined")

        # 3. classify in one request; predictions and state commit together
        versions: set[str] = set()
        if to_classify:
            try:
                versions = self._classify(workflow, to_classify, count)
            except EndpointUnavailable as exc:
                log.warning(
                    "%s: %d files wait for the endpoint: %s", workflow, len(to_classify), exc
                )
                count("retry", len(to_classify))

        # 4. store in the lake, commit, then leave landing
        to_store = [i for i in landed if i.state == rows.CLASSIFIED]
        self.files.store(workflow, to_store, count)
        stored = [i for i in to_store if i.state == rows.STORED]
        count("stored", len(stored))
        if days is not None:
            days.update(i.day for i in stored)
        self.lineage.batch(workflow, versions, {i.day for i in stored}, counts)

    def _classify(self, workflow: str, items: list[Landed], count: Callable[..., None]) -> set[str]:
        """Classify and record; the files the endpoint refuses are quarantined. Returns
        the versions that answered."""
        versions: set[str] = set()
        for verdict in classify(self.endpoint, workflow, items):
            if isinstance(verdict, Refused):
                detail = f"endpoint refused it: {verdict.detail}"
                self.files.quarantine(workflow, verdict.item, "undecodable", detail)
                count("quarantined")
            else:
                self.files.record_predictions(workflow, verdict.items, verdict.answers)
                versions.update(a.model_version for a in verdict.answers)
        return versions

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
            self.lineage.close()
