"""The prediction log: a sample of every endpoint prediction, written to Postgres in batches.

The request path only samples rows and appends a slice of the batcher's output to a
bounded queue (no I/O; the rows become records in the writer thread). A writer thread per endpoint worker drains it with COPY every
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
import threading
import time
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Unpack

import numpy as np
from starlette.types import ASGIApp, Receive, Scope, Send

from modelfleet.embedding import PROJECTED_DIMS
from modelfleet.endpoint_client import SHA256_HEADER, SOURCE_HEADER
from modelfleet.registry.api_keys import INGEST_APP
from modelfleet.serving.background_writer import BackgroundWriter, WriterSettings

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
    """Name the application of the current request (the service resolved its key).

    Only the stream classifier's own key may say a request is the stream's and name its
    images' hashes: from any other application those headers are dropped, so no client
    can file its predictions as the stream's or tie them to the stream's images."""
    origin = ORIGIN.get() if name == INGEST_APP else Origin()
    ORIGIN.set(replace(origin, application=name[:64]))


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


@dataclass(frozen=True)
class _Chunk:
    """The sampled rows of one request, as the batcher returned them: turned into
    entries by the writer thread, so the request path only slices an array."""

    model: LoadedModel
    out: np.ndarray
    origin: Origin
    sha256: tuple[str, ...]
    at: datetime


def entries_of(chunks: list[_Chunk]) -> list[Entry]:
    """The records of queued chunks. Chunks of one model and origin are converted
    together: numpy's cost is per call, and a chunk is often one row."""
    groups: dict[tuple[int, Origin], list[_Chunk]] = {}
    for chunk in chunks:
        groups.setdefault((id(chunk.model), chunk.origin), []).append(chunk)
    out: list[Entry] = []
    for group in groups.values():
        model, origin = group[0].model, group[0].origin
        classes = len(model.classes)
        height, width, channels = model.input_shape
        block = np.concatenate([c.out for c in group]) if len(group) > 1 else group[0].out
        best = block[:, :classes].argmax(axis=1)
        confidence = block[np.arange(len(block)), best].tolist()
        extras = block[:, classes:].tolist()
        sha = [h for c in group for h in (c.sha256 or (None,) * len(c.out))]
        at = [c.at for c in group for _ in range(len(c.out))]
        names = model.classes
        out.extend(
            (
                model.workflow,
                model.version,
                origin.source,
                origin.application,
                sha[i],
                names[b],
                confidence[i],
                extras[i][PROJECTED_DIMS],
                extras[i][PROJECTED_DIMS + 1],
                height,
                width,
                channels,
                extras[i][:PROJECTED_DIMS],
                at[i],
            )
            for i, b in enumerate(best.tolist())
        )
    return out


class PredictionLog(BackgroundWriter[_Chunk]):
    """Sampling on the request path, COPY in a background thread."""

    thread_name = "prediction-log"
    what = "prediction log rows"
    setting = "monitor.sample_rate"

    def __init__(
        self,
        writer: Writer,
        rates: Callable[[], dict[str, float]],
        *,
        warn_every_s: float = 60.0,
        count: Count | None = None,
        **settings: Unpack[WriterSettings],
    ) -> None:
        super().__init__(rates, **settings)
        self._writer = writer
        self._queue: deque[_Chunk] = deque()
        self._rows = 0  # queued rows (the capacity is in rows, the queue holds chunks)
        self._lock = threading.Lock()  # the event loop appends, the writer pops
        self.warn_every_s = warn_every_s
        self._count = count or (lambda outcome, rows: None)
        self._last_warning = -float("inf")
        self.refresh()

    # -- request path (event loop): a slice and an append, no I/O --

    def rate(self, workflow: str) -> float:
        return self._shares.get(workflow, DEFAULT_RATE)

    def record(self, model: LoadedModel, out: np.ndarray, origin: Origin | None = None) -> None:
        """Sample rows of one request's output (probabilities, then the extra columns)."""
        rate = self.rate(model.workflow)
        if rate <= 0 or model.extra_columns == 0:
            return
        origin = origin or ORIGIN.get()
        sha = origin.sha256 if len(origin.sha256) == len(out) else ()
        if rate < 1:
            keep = self._random.random(len(out)) < rate
            if not keep.any():
                return
            out = out[keep]
            if sha:
                sha = tuple(h for h, kept in zip(sha, keep.tolist(), strict=True) if kept)
        self._push([_Chunk(model, out, origin, sha, datetime.now(UTC))])

    def pending(self) -> int:
        return self._rows

    def _push(self, chunks: list[_Chunk], *, front: bool = False) -> None:
        """Queue chunks (a failed batch goes back to the front); beyond `capacity` rows
        the oldest are dropped and counted."""
        lost = 0
        with self._lock:
            if front:
                self._queue.extendleft(reversed(chunks))
            else:
                self._queue.extend(chunks)
            self._rows += sum(len(c.out) for c in chunks)
            while self._rows > self.capacity and self._queue:
                oldest = self._queue.popleft()
                self._rows -= len(oldest.out)
                lost += len(oldest.out)
            queued = self._rows
        if lost:
            self.dropped += lost
            self._count("dropped", lost)
        if queued >= self.flush_rows:
            self._wake.set()

    # -- writer thread --

    def _take(self) -> list[_Chunk]:
        """Chunks of about `flush_rows` rows, oldest first."""
        taken: list[_Chunk] = []
        rows = 0
        with self._lock:
            while self._queue and rows < self.flush_rows:
                chunk = self._queue.popleft()
                rows += len(chunk.out)
                taken.append(chunk)
            self._rows -= rows
        return taken

    def _write(self, batch: list[_Chunk]) -> int:
        entries = entries_of(batch)
        written = self._writer(entries)
        self._count("written", written)
        if written < len(entries):  # rows of a workflow the registry does not know
            self._count("unknown", len(entries) - written)
        return written

    def _requeue(self, batch: list[_Chunk]) -> None:
        self._push(batch, front=True)

    def warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning >= self.warn_every_s:
            self._last_warning = now
            log.warning("%s (dropped so far: %d)", message, self.dropped)
