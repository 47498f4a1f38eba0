"""The endpoint's inference requests per workflow and minute, by outcome: what the
error-rate monitor divides. A failed request never reaches the prediction log (it has no
prediction), so it is counted here instead.

The request path adds one to a counter under a lock (no I/O); the writer thread adds the
minutes' counts to Postgres every `flush_s` (registry.store.request_counts), where every
endpoint worker's counts meet. Only inference requests to a declared workflow count, and
only from callers whose key the endpoint accepted (`accepted`) and who hold a grant for
the workflow: a missing or wrong key (401), one over the failed-key limit (429), a key
check that found the endpoint busy (503) or a workflow not granted (403) are anyone's to
cause, and would let a stranger raise a workflow's error rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any, Unpack

from modelfleet.registry.store.request_counts import MinuteCount
from modelfleet.serving.background_writer import BackgroundWriter, WriterSettings

NOT_GRANTED = 403  # an accepted caller, but not one of the workflow's applications
INFERENCE_SUFFIXES = (":predict", ":classify", "/infer")  # TF Serving, V2
ACCEPTED_KEY = "modelfleet.accepted"  # scope[ACCEPTED_KEY]: the caller's key was accepted
Key = tuple[str, int]  # (workflow, minute since the epoch)


def outcome(status: int) -> int | None:
    """0 answered, 1 rejected (4xx), 2 failed (5xx); None for a request that is not the
    workflow's traffic."""
    if status == NOT_GRANTED:
        return None
    return 0 if status < 400 else 1 if status < 500 else 2


def accepted(scope: MutableMapping[str, Any]) -> None:
    """Mark an HTTP request whose caller's key the endpoint accepted (serving.auth)."""
    scope[ACCEPTED_KEY] = True


def inference_workflow(scope: MutableMapping[str, Any]) -> str | None:
    """The workflow an HTTP inference request of an accepted caller named (its route's
    path parameter, there once the router matched); None for any other request."""
    if not scope.get(ACCEPTED_KEY) or scope.get("method") != "POST":
        return None
    if not scope["path"].endswith(INFERENCE_SUFFIXES):
        return None
    workflow = (scope.get("path_params") or {}).get("workflow")
    return workflow if isinstance(workflow, str) else None


class RequestTally(BackgroundWriter[MinuteCount]):
    """Counts on the request path, adds them to Postgres in a background thread.
    `capacity` bounds the (workflow, minute) counters held while Postgres is away."""

    thread_name = "request-tally"
    what = "request counts"
    drain = False  # `_take` takes every counter: one upsert per flush_s, whatever the load

    def __init__(
        self,
        writer: Callable[[list[MinuteCount]], int],
        known: Callable[[str], bool],
        *,
        clock: Callable[[], float] = time.time,
        **settings: Unpack[WriterSettings],
    ) -> None:
        super().__init__(**({"flush_s": 5.0} | settings))
        self._writer = writer
        self._known = known
        self._clock = clock
        self._counts: dict[Key, list[int]] = {}
        self._lock = threading.Lock()  # the event loop counts, the writer takes
        self._dropped_said = 0

    # -- request path (event loop): a dict entry, no I/O --

    def count(self, workflow: str, status: int) -> None:
        kind = outcome(status)
        if kind is None or not self._known(workflow):
            return
        key = (workflow, int(self._clock() // 60))
        with self._lock:
            counts = self._counts.get(key)
            if counts is None:
                if len(self._counts) >= self.capacity:
                    self.dropped += 1
                    return
                counts = self._counts[key] = [0, 0, 0]
            counts[kind] += 1

    def pending(self) -> int:
        return len(self._counts)

    # -- writer thread --

    def _take(self) -> list[MinuteCount]:
        """Every counter held: one statement adds them all."""
        with self._lock:
            taken, self._counts = self._counts, {}
        return [
            MinuteCount(workflow, datetime.fromtimestamp(minute * 60, UTC), *counts)
            for (workflow, minute), counts in taken.items()
        ]

    def _write(self, batch: list[MinuteCount]) -> int:
        if self.dropped > self._dropped_said:
            self._dropped_said = self.dropped
            self.warn(
                f"{self.dropped} requests not counted so far: {self.capacity} minutes' "
                "counters were already waiting for Postgres"
            )
        return self._writer(batch)  # a workflow the registry does not know is skipped

    def _requeue(self, batch: list[MinuteCount]) -> None:
        """Add a batch whose write failed back to the counters (later counts included)."""
        with self._lock:
            for c in batch:
                key = (c.workflow, int(c.minute.timestamp()) // 60)
                held = self._counts.setdefault(key, [0, 0, 0])
                for i, n in enumerate((c.answered, c.rejected, c.failed)):
                    held[i] += n
