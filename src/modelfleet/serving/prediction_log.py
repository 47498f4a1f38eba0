"""The prediction log: a sample of every endpoint prediction, written to Postgres in batches.

The request path only samples rows and appends small tuples to a bounded queue (a deque:
no lock, no I/O). A writer thread per endpoint worker drains it with COPY every
`flush_s` or every `flush_rows` rows. If Postgres is slow or down the queue drops its
oldest rows (counted in `modelfleet_prediction_log_rows{outcome="dropped"}`) and the
thread warns once per interval: a request never waits for the log and never fails by it.

What a row carries comes from the batcher's output (`serving.monitored`): probabilities,
the projected penultimate embedding and the input statistics, all computed in the
model's compiled batch call. Who asked comes from `ORIGIN`, a context variable the
`OriginMiddleware` sets per request: the stream's client names itself and its images'
sha256 in two headers, so its predictions are logged once, with their images' hashes.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from starlette.types import ASGIApp, Receive, Scope, Send

from modelfleet.embedding import PROJECTED_DIMS
from modelfleet.endpoint_client import SHA256_HEADER, SOURCE_HEADER

if TYPE_CHECKING:
    from modelfleet.serving.pool import LoadedModel

log = logging.getLogger("modelfleet.serving.prediction_log")

SOURCES = ("api", "stream", "shadow")
DEFAULT_RATE = 0.1  # MonitorPolicy's default, for a workflow the fleet does not declare


@dataclass(frozen=True)
class Origin:
    """Who a request is from, as far as the log cares."""

    source: str = "api"
    application: str | None = None
    sha256: tuple[str, ...] = ()


ORIGIN: ContextVar[Origin] = ContextVar(
    "modelfleet_prediction_origin",
    default=Origin(),  # noqa: B039 (frozen: immutable)
)


def set_application(name: str) -> None:
    """Name the application of the current request (the service resolved its key)."""
    ORIGIN.set(replace(ORIGIN.get(), application=name[:64]))


class OriginMiddleware:
    """Reads the stream's two headers into `ORIGIN` for the request (pure ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            ORIGIN.set(origin_of(scope.get("headers", [])))
        await self.app(scope, receive, send)


def origin_of(headers: list[tuple[bytes, bytes]]) -> Origin:
    source, hashes = "api", ""
    for key, value in headers:
        if key == SOURCE_HEADER.encode():
            named = value.decode("latin-1").strip().lower()
            source = named if named in SOURCES else "api"
        elif key == SHA256_HEADER.encode():
            hashes = value.decode("latin-1")
    sha = tuple(h.strip().lower() for h in hashes.split(",") if h.strip())
    if any(len(h) != 64 for h in sha):  # not hashes: keep none rather than wrong ones
        sha = ()
    return Origin(source=source, sha256=sha)


Entry = tuple[Any, ...]  # (workflow, version, then the row's columns from `source` on)
Writer = Callable[[list[Entry]], int]  # writes entries, returns rows written
Count = Callable[[str, int], None]  # (outcome, rows) -> a metric


class PredictionLog:
    """Sampling on the request path, COPY in a background thread."""

    def __init__(
        self,
        writer: Writer,
        rates: Callable[[], dict[str, float]],
        *,
        capacity: int = 100_000,
        flush_rows: int = 2_000,
        flush_s: float = 1.0,
        refresh_s: float = 30.0,
        warn_every_s: float = 60.0,
        count: Count | None = None,
        seed: int | None = None,
    ) -> None:
        self._writer = writer
        self._rates_source = rates
        self._rates: dict[str, float] = {}
        self._queue: deque[Entry] = deque(maxlen=capacity)
        self.flush_rows = flush_rows
        self.flush_s = flush_s
        self.refresh_s = refresh_s
        self.warn_every_s = warn_every_s
        self._count = count or (lambda outcome, rows: None)
        self._random = random.Random(seed)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_warning = -float("inf")
        self.dropped = 0
        self.written = 0
        self._refresh_rates()

    # -- request path (event loop): no I/O, no lock --

    def rate(self, workflow: str) -> float:
        return self._rates.get(workflow, DEFAULT_RATE)

    def record(self, model: LoadedModel, out: np.ndarray, origin: Origin | None = None) -> None:
        """Sample rows of one request's output (probabilities, then the extra columns)."""
        rate = self.rate(model.workflow)
        if rate <= 0 or model.extra_columns == 0:
            return
        n = len(out)
        rows = range(n) if rate >= 1 else [i for i in range(n) if self._random.random() < rate]
        if not rows:
            return
        origin = origin or ORIGIN.get()
        sha = origin.sha256 if len(origin.sha256) == n else ()
        classes = len(model.classes)
        height, width, channels = model.input_shape
        now = datetime.now(UTC)
        for i in rows:
            probs = out[i, :classes]
            best = int(np.argmax(probs))
            extras = out[i, classes:]
            entry = (
                model.workflow,
                model.version,
                origin.source,
                origin.application,
                sha[i] if sha else None,
                model.classes[best],
                float(probs[best]),
                float(extras[PROJECTED_DIMS]),
                float(extras[PROJECTED_DIMS + 1]),
                height,
                width,
                channels,
                extras[:PROJECTED_DIMS].tolist(),
                now,
            )
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1  # the deque drops its oldest row to take this one
                self._count("dropped", 1)
            self._queue.append(entry)
        if len(self._queue) >= self.flush_rows:
            self._wake.set()

    def pending(self) -> int:
        return len(self._queue)

    # -- writer thread --

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Flush what is queued (best effort, within `timeout_s`) and end the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def flush(self) -> int:
        """Write what is queued now, in batches of `flush_rows`; returns rows written.
        A failed batch goes back to the front of the queue and the error is raised."""
        total = 0
        while self._queue:
            batch: list[Entry] = []
            while self._queue and len(batch) < self.flush_rows:
                batch.append(self._queue.popleft())
            try:
                written = self._writer(batch)
            except Exception:
                self._requeue(batch)
                raise
            self.written += written
            self._count("written", written)
            if written < len(batch):  # rows of a workflow the registry does not know
                self._count("unknown", len(batch) - written)
            total += written
        return total

    def _requeue(self, batch: list[Entry]) -> None:
        # Room first for the newer rows: what does not fit of the failed batch is dropped.
        room = (self._queue.maxlen or 0) - len(self._queue)
        keep = batch[len(batch) - room :] if room < len(batch) else batch
        lost = len(batch) - len(keep)
        if lost > 0:
            self.dropped += lost
            self._count("dropped", lost)
        self._queue.extendleft(reversed(keep))

    def _run(self) -> None:
        refreshed = time.monotonic()
        backoff = self.flush_s
        while not self._stop.is_set():
            self._wake.wait(backoff)
            self._wake.clear()
            if time.monotonic() - refreshed >= self.refresh_s:
                self._refresh_rates()
                refreshed = time.monotonic()
            try:
                self.flush()
                backoff = self.flush_s
            except Exception as exc:
                backoff = min(backoff * 2, 30.0)  # Postgres down: retry ever less often
                self._warn(f"cannot write the prediction log ({exc}); {self.pending()} rows queued")
        try:
            self.flush()
        except Exception as exc:
            self._warn(f"prediction log: {self.pending()} rows not written at shutdown ({exc})")

    def _refresh_rates(self) -> None:
        try:
            self._rates = dict(self._rates_source())
        except Exception as exc:  # a bad workflows.yaml edit: keep the rates we had
            self._warn(f"prediction log: cannot read monitor.sample_rate ({exc})")

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning >= self.warn_every_s:
            self._last_warning = now
            log.warning("%s (dropped so far: %d)", message, self.dropped)
