"""A steady load on the endpoint while the year runs: every served workflow, all along.

Each client thread uploads a camera-like PNG to `:classify` of the next workflow in
turn, as an application pinned to `production` would. A workflow joins the rotation
once its first production version is ready (before that there is nothing to serve,
so a 404 then would not be a failure); from then on every answer that is not a 200
counts as a failed request, whatever promotion is under way.
"""

from __future__ import annotations

import io
import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from modelfleet.endpoint_client import EndpointClient, EndpointError

READY_POLL_S = 5.0


@dataclass(frozen=True)
class Answer:
    at: float  # monotonic seconds
    workflow: str
    status: int  # 0: no HTTP answer at all
    latency_s: float
    version: str | None
    error: str | None = None


@dataclass
class LoadSummary:
    requests: int
    failed: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    versions_seen: dict[str, list[str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # the first few, for the report

    @classmethod
    def of(cls, answers: list[Answer]) -> LoadSummary:
        latencies = np.array([a.latency_s for a in answers] or [0.0]) * 1000
        seen: dict[str, dict[str, None]] = {}
        for a in answers:
            if a.version:
                seen.setdefault(a.workflow, {})[a.version] = None
        bad = [a for a in answers if a.status != 200]
        return cls(
            requests=len(answers),
            failed=len(bad),
            p50_ms=float(np.percentile(latencies, 50)),
            p99_ms=float(np.percentile(latencies, 99)),
            max_ms=float(latencies.max()),
            versions_seen={wf: list(v) for wf, v in sorted(seen.items())},
            failures=[f"{a.workflow}: {a.status} {a.error or ''}".strip() for a in bad[:20]],
        )


def sample_png(seed: int = 7) -> bytes:
    """A 64x48 RGB photo-like PNG: the endpoint resizes it to each model's input."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


class LoadGenerator:
    """`clients` threads, each at most `rate_per_client` requests/s, until `stop()`."""

    def __init__(
        self,
        endpoint_url: str,
        api_key: str,
        workflows: list[str],
        *,
        clients: int = 2,
        rate_per_client: float = 5.0,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.api_key = api_key
        self.workflows = workflows
        self.clients = clients
        self.interval_s = 1.0 / rate_per_client
        self.image = sample_png()
        self.answers: list[Answer] = []
        self.ready: list[str] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        targets = [self._watch_readiness] + [self._client] * self.clients
        for i, target in enumerate(targets):
            thread = threading.Thread(target=target, name=f"year-load-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> LoadSummary:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        return self.summary()

    def summary(self) -> LoadSummary:
        with self._lock:
            return LoadSummary.of(list(self.answers))

    def status_counts(self) -> Counter[int]:
        with self._lock:
            return Counter(a.status for a in self.answers)

    def _endpoint(self, timeout: float) -> EndpointClient:
        return EndpointClient(self.endpoint_url, api_key=self.api_key, timeout=timeout)

    def _watch_readiness(self) -> None:
        with self._endpoint(timeout=10) as endpoint:
            while not self._stop.is_set():
                for workflow in self.workflows:
                    if workflow not in self.ready and endpoint.is_ready(workflow):
                        with self._lock:
                            self.ready.append(workflow)
                self._stop.wait(READY_POLL_S)

    def _client(self) -> None:
        turn = itertools.count()
        with self._endpoint(timeout=30) as endpoint:
            while not self._stop.is_set():
                began = time.monotonic()
                with self._lock:
                    ready = list(self.ready)
                if ready:
                    self._record(endpoint, ready[next(turn) % len(ready)])
                self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - began)))

    def _record(self, endpoint: EndpointClient, workflow: str) -> None:
        began = time.monotonic()
        try:
            reply = endpoint.classify_file(workflow, "frame.png", self.image)
            status, error, version = reply.status_code, None, reply.model_version
        except EndpointError as exc:  # status 0: no HTTP answer at all
            status, error, version = exc.status_code, exc.detail, None
        answer = Answer(began, workflow, status, time.monotonic() - began, version, error)
        with self._lock:
            self.answers.append(answer)
