"""`modelfleet ingest`: classify every image that lands, store it, lose nothing.

Each file walks `received -> stored` or `-> quarantined(reason)` in the
`ingest_file` table, keyed by (workflow, sha256). A file leaves the landing
folder only after its row has committed, so a crash at any point is resumed on
restart, and the same bytes are never classified twice.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.orm import Session

from modelfleet import db
from modelfleet.datasets.manifest import sha256_bytes
from modelfleet.errors import DataError
from modelfleet.imaging import decode
from modelfleet.ingest.files import move_to_quarantine, ready_files, store_in_lake
from modelfleet.platform.api_keys import INGEST_APP, auth_headers
from modelfleet.registry.store import predictions as store
from modelfleet.registry.store.versions import get_version
from modelfleet.settings import Settings

log = logging.getLogger("modelfleet.ingest")


class EndpointUnavailable(Exception):
    """The endpoint cannot answer now; the file stays and is retried."""


@dataclass(frozen=True)
class Outcome:
    state: str  # stored | quarantined | duplicate | retry
    detail: str


class Ingestor:
    def __init__(self, settings: Settings, workflows: list[str], database_url: str) -> None:
        self.settings = settings
        self.workflows = workflows
        self.engine = db.engine(database_url)
        self.client = httpx.Client(
            base_url=settings.endpoint_url, headers=auth_headers(settings, INGEST_APP), timeout=30
        )
        self.wake = threading.Event()

    def scan_once(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for workflow in self.workflows:
            for path in ready_files(self.settings.landing / workflow):
                outcome = self.process(workflow, path)
                counts[outcome.state] = counts.get(outcome.state, 0) + 1
                log.info("%s %s: %s (%s)", workflow, path.name, outcome.state, outcome.detail)
        return counts

    def process(self, workflow: str, path: Path) -> Outcome:
        data = path.read_bytes()
        sha = sha256_bytes(data)
        with Session(self.engine) as session, session.begin():
            row = store.ingest_state(session, workflow, sha)
            if row is None:
                row = store.record_received(session, workflow, sha, path.name)
            elif row.state == store.STORED:
                row.duplicates += 1
                path.unlink()  # same bytes already stored; the counter records it
                return Outcome("duplicate", f"already stored as {row.final_path}")
            elif row.state == store.QUARANTINED:
                target = move_to_quarantine(
                    self.settings.quarantine, workflow, path, row.reason or ""
                )
                row.final_path = str(target)
                return Outcome("quarantined", f"{row.reason} (again)")
        try:
            decode(data)
            answer = self._classify(workflow, path.name, data)
        except DataError as exc:
            return self._quarantine(workflow, path, sha, str(exc))
        except EndpointUnavailable as exc:
            return Outcome("retry", str(exc))
        record = {"workflow": workflow, "sha256": sha, "source": path.name, **answer}
        stored = store_in_lake(self.settings.lake, workflow, sha, data, record)
        with Session(self.engine) as session, session.begin():
            version = get_version(session, workflow, answer["model_version"])
            prediction_id = store.add_prediction(
                session,
                model_version_id=version.id,
                image_sha256=sha,
                label=answer["label"],
                score=answer["score"],
                scores={t["label"]: t["score"] for t in answer["top_k"]},
                source=path.name,
                stored_path=str(stored),
            )
            row = store.ingest_state(session, workflow, sha)
            assert row is not None
            row.state, row.final_path, row.prediction_id = store.STORED, str(stored), prediction_id
        path.unlink()
        return Outcome(
            "stored", f"{answer['label']} ({answer['score']:.3f}) by {answer['model_version']}"
        )

    def _classify(self, workflow: str, name: str, data: bytes) -> dict:
        try:
            response = self.client.post(
                f"/v1/models/{workflow}:classify", files={"file": (name, data)}
            )
        except httpx.TransportError as exc:
            raise EndpointUnavailable(f"endpoint unreachable: {exc}") from None
        if response.status_code >= 500:
            raise EndpointUnavailable(f"endpoint answered {response.status_code}: {response.text}")
        if response.status_code >= 400:
            raise DataError(f"endpoint rejected the file: {response.json().get('error')}")
        return response.json()

    def _quarantine(self, workflow: str, path: Path, sha: str, reason: str) -> Outcome:
        with Session(self.engine) as session, session.begin():
            row = store.ingest_state(session, workflow, sha)
            assert row is not None
            row.state, row.reason = store.QUARANTINED, reason
        target = move_to_quarantine(self.settings.quarantine, workflow, path, reason)
        with Session(self.engine) as session, session.begin():
            row = store.ingest_state(session, workflow, sha)
            assert row is not None
            row.final_path = str(target)
        return Outcome("quarantined", reason)

    def run_forever(self, rescan_s: float = 2.0, stop: threading.Event | None = None) -> None:
        """Watch with inotify (watchdog) and rescan every `rescan_s` as a fallback."""
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        stop = stop or threading.Event()
        wake = self.wake

        class Wake(FileSystemEventHandler):
            def on_any_event(self, event) -> None:  # type: ignore[no-untyped-def]
                wake.set()

        observer = Observer()
        for workflow in self.workflows:
            folder = self.settings.landing / workflow
            folder.mkdir(parents=True, exist_ok=True)
            observer.schedule(Wake(), str(folder))
        observer.start()
        backoff = rescan_s
        log.info("watching %s for %s", self.settings.landing, ", ".join(self.workflows))
        try:
            while not stop.is_set():
                counts = self.scan_once()
                # Back off while the endpoint is down; files wait in landing.
                backoff = min(backoff * 2, 30.0) if counts.get("retry") else rescan_s
                wake.wait(backoff)
                wake.clear()
                time.sleep(0.2)  # let a burst of writes finish
        finally:
            observer.stop()
            observer.join()
