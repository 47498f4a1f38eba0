"""Webhooks: POST a JSON event per classified or quarantined file, with retries.

Events are queued after their rows commit and sent by one background thread, so
a slow receiver never holds up ingestion. Postgres NOTIFY (`modelfleet_ingest`)
carries the same events inside the transaction, for listeners in the database.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

import httpx

log = logging.getLogger("modelfleet.ingest")
RETRIES = 4  # attempts per event, backing off 0.5, 1, 2 s


class Webhooks:
    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = urls  # workflow -> URL
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.failed = 0

    def publish(self, event: dict[str, Any]) -> None:
        url = self.urls.get(event["workflow"])
        if url is None:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
            self._thread.start()
        self._queue.put((url, event))

    def close(self, timeout_s: float = 10.0) -> None:
        """Send what is queued (up to `timeout_s`), then stop."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout_s)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while (item := self._queue.get()) is not None:
                url, event = item
                for attempt in range(RETRIES):
                    try:
                        response = client.post(url, json=event)
                        if response.status_code < 500:
                            if response.status_code >= 400:
                                log.warning(
                                    "webhook %s refused an event: %s", url, response.status_code
                                )
                            self.sent += 1
                            break
                    except httpx.HTTPError as exc:
                        log.info("webhook %s: %s (attempt %d)", url, exc, attempt + 1)
                    time.sleep(0.5 * 2**attempt)
                else:
                    self.failed += 1
                    log.error(
                        "webhook %s: gave up on %s after %d attempts",
                        url,
                        event.get("sha256"),
                        RETRIES,
                    )
