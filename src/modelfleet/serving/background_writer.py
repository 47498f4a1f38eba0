"""A daemon thread that writes what the request path queued, off the critical path.

The prediction log and the shadow mirror both queue rows on the event loop and write
them to Postgres from a thread of their own; this is that thread. It flushes every
`flush_s` (or when woken), backs off while writes fail (Postgres down: retry ever less
often), refreshes its owner's settings every `refresh_s`, and flushes once more when
stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypedDict, TypeVar

import numpy as np

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
Queued = TypeVar("Queued")  # what the request path queues: a row, or a chunk of rows


class WriterSettings(TypedDict, total=False):
    """The keywords subclasses pass through to `BackgroundWriter.__init__` (its defaults
    apply), so each owner does not repeat them."""

    capacity: int
    flush_rows: int
    flush_s: float
    refresh_s: float
    seed: int | None


class BackgroundWriter(Generic[Queued]):
    """Subclasses give `_take()` (the next batch of about `flush_rows` rows from their
    queue), `_write()` and `_requeue()` (which `flush()` drives), `pending()`, and `what`:
    the rows they write, for warnings. It also holds what both owners share: queue limits,
    a seeded sampler, the row counters, and the share of each workflow's traffic they
    take (`shares`, re-read every `refresh_s`; `setting` names it in warnings)."""

    thread_name = "background-writer"
    what = "rows"
    # True: a flush writes batches until the queue is empty. False: one batch per flush,
    # for an owner whose `_take` takes everything (under steady traffic the queue is
    # never empty, and the thread would write back to back rather than every flush_s).
    drain = True
    setting = "the per-workflow share"  # what `shares` reads, for warnings

    def __init__(
        self,
        shares: Callable[[], dict[str, float]] | None = None,
        *,
        capacity: int = 100_000,
        flush_rows: int = 2_000,
        flush_s: float = 1.0,
        refresh_s: float = 30.0,
        seed: int | None = None,
    ) -> None:
        self.capacity = capacity
        self.flush_rows = flush_rows
        self.flush_s = flush_s
        self.refresh_s = refresh_s
        self._shares_source = shares or dict  # none: an owner that takes all traffic
        self._shares: dict[str, float] = {}  # of each workflow's traffic, as last read
        self._random = np.random.default_rng(seed)  # the request path's sampling
        self.dropped = 0
        self.written = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def flush(self) -> int:
        """Write what is queued now, a batch at a time; returns rows written. A failed
        batch goes back to the front of the queue and the error is raised."""
        total = 0
        while batch := self._take():
            try:
                written = self._write(batch)
            except Exception:
                self._requeue(batch)
                raise
            self.written += written
            total += written
            if not self.drain:
                break
        return total

    def pending(self) -> int:
        raise NotImplementedError

    def _take(self) -> list[Queued]:
        """The oldest queued items, about `flush_rows` rows; none when the queue is empty."""
        raise NotImplementedError

    def _write(self, batch: list[Queued]) -> int:
        """Write `batch`; returns the rows written (raises when the write failed)."""
        raise NotImplementedError

    def _requeue(self, batch: list[Queued]) -> None:
        """Put a batch whose write failed back at the front of the queue."""
        raise NotImplementedError

    def refresh(self) -> None:
        """Re-read the per-workflow shares, which may change while serving."""
        try:
            self._shares = dict(self._shares_source())
        except Exception as exc:  # a bad workflows.yaml edit: keep the shares we had
            self.warn(f"{self.thread_name}: cannot read {self.setting} ({exc})")

    def warn(self, message: str) -> None:
        log.warning("%s", message)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Flush what is queued (best effort, within `timeout_s`) and end the thread."""
        self.ask_to_stop()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def ask_to_stop(self) -> None:
        """Start the last flush without waiting for it: several writers flush at once."""
        self._stop.set()
        self._wake.set()

    def _run(self) -> None:
        refreshed = time.monotonic()
        backoff = self.flush_s
        while not self._stop.is_set():
            self._wake.wait(backoff)
            self._wake.clear()
            if time.monotonic() - refreshed >= self.refresh_s:
                self.refresh()
                refreshed = time.monotonic()
            try:
                self.flush()
                backoff = self.flush_s
            except Exception as exc:
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                self.warn(f"cannot write {self.what} ({exc}); {self.pending()} queued")
        try:
            self.flush()
        except Exception as exc:
            self.warn(f"{self.pending()} {self.what} not written at shutdown ({exc})")
