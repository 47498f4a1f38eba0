"""Announce each file that ends: a JSON event per stored or quarantined file, by
Postgres NOTIFY and by webhook POSTs sent at least once.

Each event is written to the `webhook_event` outbox in the transaction of the state
change it announces, and a background thread sends what is due, with retries and
backoff. A watcher killed before sending leaves its events to the next one (any shard;
senders skip each other's claimed rows), so a crash loses no notification; it may send
one twice, so every event carries `event_id` for receivers to drop repeats. Postgres
NOTIFY (`modelfleet_ingest`) carries the same events inside the transaction, for
listeners in the database.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from modelfleet.registry.store import webhooks as outbox
from modelfleet.registry.store.ingest_files import notify_many

log = logging.getLogger("modelfleet.ingest")
MAX_ATTEMPTS = 8  # retried after 1, 2, 4 ... 60 s (about 2 minutes), then given up
CLAIM = 20  # events per pass
LEASE = timedelta(minutes=2)  # a claimed event's POSTs (CLAIM x TIMEOUT_S) fit in it
POLL_S = 2.0  # for events due after a backoff, or written by another process
TIMEOUT_S = 5.0


def file_event(
    workflow: str, state: str, sha256: str, source: str, answer: dict[str, Any]
) -> dict[str, Any]:
    """The event of one file reaching `state`, with its prediction where it has one."""
    event: dict[str, Any] = {
        "event": state,
        "workflow": workflow,
        "sha256": sha256,
        "source": source,
    }
    if answer:
        event.update(
            label=answer.get("label"),
            score=answer.get("score"),
            model_version=answer.get("model_version"),
            path=answer.get("stored_path"),
        )
    return event


class Webhooks:
    """The sender of each workflow's webhook (`urls`), over the outbox."""

    def __init__(self, urls: dict[str, str], engine: Engine) -> None:
        self.urls = urls  # workflow -> URL
        self.engine = engine
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()  # batches commit from several threads
        self.sent = 0
        self.failed = 0

    def enqueue(self, session: Session, workflow: str, events: list[dict[str, Any]]) -> None:
        """Add `workflow`'s events to the outbox, in the caller's transaction."""
        url = self.urls.get(workflow)
        if url is not None:
            outbox.enqueue(session, workflow, url, events)

    def announce(self, session: Session, workflow: str, events: list[dict[str, Any]]) -> None:
        """NOTIFY the events and add them to the outbox, in the caller's transaction (call
        `committed` once it commits)."""
        notify_many(session, events)
        self.enqueue(session, workflow, events)

    def start(self) -> None:
        """Run the sender (idempotent): what a previous watcher left is sent too."""
        with self._starting:
            if self.urls and self._thread is None:
                self._stop = threading.Event()  # this sender's own: close() may time out
                self._thread = threading.Thread(
                    target=self._run, args=(self._stop,), name="webhooks", daemon=True
                )
                self._thread.start()

    def committed(self) -> None:
        """New events are in the outbox: send them now rather than at the next poll."""
        self.start()
        self._wake.set()

    def close(self, timeout_s: float = 10.0) -> None:
        """Send what is due (up to `timeout_s`), then stop; the rest stays in the outbox."""
        with self._starting:
            if self._thread is None:
                return
            self._stop.set()
            self._wake.set()
            self._thread.join(timeout_s)
            self._thread = None

    def deliver_due(self) -> int:
        """One pass: each due event POSTed once. Returns how many were claimed."""
        with Session(self.engine) as session, session.begin():
            claimed = outbox.claim_due(session, CLAIM, LEASE)
        if not claimed:
            return 0
        with httpx.Client(timeout=TIMEOUT_S) as client:  # no transaction held meanwhile
            results = [
                (event_id, url, payload, _post(client, url, {**payload, "event_id": event_id}))
                for event_id, url, payload in claimed
            ]
        with Session(self.engine) as session, session.begin():
            for event_id, url, payload, error in results:
                attempts, gave_up = outbox.record_attempt(
                    session, event_id, error, max_attempts=MAX_ATTEMPTS
                )
                if error is None:
                    self.sent += 1
                elif gave_up:
                    self.failed += 1
                    log.error(
                        "webhook %s: gave up on event %d (%s) after %d attempts: %s",
                        url,
                        event_id,
                        payload.get("sha256"),
                        attempts,
                        error,
                    )
                else:
                    log.info("webhook %s: %s (attempt %d)", url, error, attempts)
        return len(claimed)

    def _run(self, stop: threading.Event) -> None:
        while True:
            # Asked to stop before this pass began: it covers every event committed
            # before close(), so it is the last.
            last = stop.is_set()
            try:
                claimed = self.deliver_due()
            except Exception:  # the database is away: the events wait in the outbox
                log.exception("webhook sender: cannot read the outbox")
                claimed = 0
            if claimed == CLAIM:
                continue  # more are due
            if last:
                return
            self._wake.wait(POLL_S)
            self._wake.clear()


def _post(client: httpx.Client, url: str, event: dict[str, Any]) -> str | None:
    """None once the receiver has answered (a 4xx is its verdict, logged); else why not."""
    try:
        response = client.post(url, json=event)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if response.status_code >= 500:
        return f"HTTP {response.status_code}"
    if response.status_code >= 400:
        log.warning(
            "webhook %s refused event %s: HTTP %d", url, event["event_id"], response.status_code
        )
    return None
