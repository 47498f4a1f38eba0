"""Prometheus metrics of the endpoint, served at /metrics.

Requests are counted by model, version, status and protocol in a pure ASGI
middleware (cheaper than Starlette's BaseHTTPMiddleware); routes name the
model that answered in the ASGI scope under `MODEL_KEY`.

With several endpoint workers (`modelfleet serve --workers N`) the counters and
histograms live in prometheus_client's multiprocess files, so whichever worker answers
/metrics reports the sum over all of them. Loaded versions and aliases are read from
the answering worker's own pool at scrape time: every worker follows the same registry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelfleet.serving.request_tally import inference_workflow

if TYPE_CHECKING:
    from modelfleet.serving.pool import ModelPool
    from modelfleet.serving.request_tally import RequestTally

MODEL_KEY = "modelfleet.model"  # scope[MODEL_KEY] = (workflow, version)
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    """The endpoint's metrics; `registry` is what /metrics serves. `multiprocess` is for
    one of several worker processes (PROMETHEUS_MULTIPROC_DIR must be set by then)."""

    def __init__(self, *, multiprocess: bool = False) -> None:
        own = CollectorRegistry()
        self.requests = Counter(
            "modelfleet_requests",
            "Requests answered, by model, version, HTTP status and protocol",
            ["model", "version", "status", "protocol"],
            registry=own,
        )
        self.latency = Histogram(
            "modelfleet_request_latency_seconds",
            "Time from request received to response sent",
            ["model", "protocol"],
            buckets=_LATENCY_BUCKETS,
            registry=own,
        )
        self.prediction_log = Counter(
            "modelfleet_prediction_log_rows",
            "Prediction-log rows by outcome: written, dropped (queue full), unknown workflow",
            ["outcome"],
            registry=own,
        )
        self.batch_size = Histogram(
            "modelfleet_batch_size",
            "Rows per inference call after dynamic batching",
            ["model", "version"],
            buckets=_BATCH_BUCKETS,
            registry=own,
        )
        if multiprocess:
            self.registry = CollectorRegistry()
            # prometheus_client leaves this constructor unannotated
            MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
        else:
            self.registry = own

    def follow(self, pool: ModelPool) -> None:
        """Report `pool`'s loaded versions and aliases at every scrape."""
        self.registry.register(_PoolCollector(pool))


def gauge(name: str, help_text: str, *labels: str) -> GaugeMetricFamily:
    """A gauge family a collector fills at scrape time."""
    return GaugeMetricFamily(name, help_text, labels=list(labels))


class _PoolCollector(Collector):
    def __init__(self, pool: ModelPool) -> None:
        self.pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        loaded = gauge(
            "modelfleet_loaded_version",
            "1 for every model version loaded and warm",
            "model",
            "version",
        )
        alias = gauge(
            "modelfleet_alias_version", "The integer version each alias serves", "model", "alias"
        )
        for model, versions, aliases in self.pool.served():
            for version in versions:
                loaded.add_metric([model, version.version], 1)
            for name, version in aliases.items():
                alias.add_metric([model, name], version.version_int)
        yield loaded
        yield alias


def _protocol(path: str) -> str:
    if path.startswith("/v1/"):
        return "tfserving"
    if path.startswith("/v2"):
        return "v2"
    if path.startswith("/admin/"):
        return "admin"
    return "other"


class MetricsMiddleware:
    """Counts every request in the Prometheus metrics and, with a `tally`, each
    inference request to a workflow for the error-rate monitor."""

    def __init__(self, app: ASGIApp, metrics: Metrics, tally: RequestTally | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.tally = tally

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/metrics":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            model, version = scope.get(MODEL_KEY, ("", ""))
            protocol = _protocol(scope["path"])
            self.metrics.requests.labels(model, version, str(status), protocol).inc()
            self.metrics.latency.labels(model, protocol).observe(time.perf_counter() - began)
            if self.tally is not None and (workflow := inference_workflow(scope)) is not None:
                self.tally.count(workflow, status)


def answered_by(scope: MutableMapping[str, Any], workflow: str, version: str) -> None:
    scope[MODEL_KEY] = (workflow, version)
