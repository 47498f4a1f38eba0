"""Prometheus metrics of the endpoint, served at /metrics.

Requests are counted by model, version, status and protocol in a pure ASGI
middleware (cheaper than Starlette's BaseHTTPMiddleware); routes name the
model that answered in the ASGI scope under `MODEL_KEY`.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MODEL_KEY = "modelfleet.model"  # scope[MODEL_KEY] = (workflow, version)
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "modelfleet_requests",
            "Requests answered, by model, version, HTTP status and protocol",
            ["model", "version", "status", "protocol"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "modelfleet_request_latency_seconds",
            "Time from request received to response sent",
            ["model", "protocol"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "modelfleet_batch_size",
            "Rows per inference call after dynamic batching",
            ["model", "version"],
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.loaded = Gauge(
            "modelfleet_loaded_version",
            "1 for every model version loaded and warm",
            ["model", "version"],
            registry=self.registry,
        )
        self.alias = Gauge(
            "modelfleet_alias_version",
            "The integer version each alias serves",
            ["model", "alias"],
            registry=self.registry,
        )

    def set_loaded(
        self, versions: dict[str, list[str]], aliases: dict[str, dict[str, int]]
    ) -> None:
        self.loaded.clear()
        for model, names in versions.items():
            for version in names:
                self.loaded.labels(model, version).set(1)
        self.alias.clear()
        for model, by_alias in aliases.items():
            for alias, version_int in by_alias.items():
                self.alias.labels(model, alias).set(version_int)


def _protocol(path: str) -> str:
    if path.startswith("/v1/"):
        return "tfserving"
    if path.startswith("/v2"):
        return "v2"
    if path.startswith("/admin/"):
        return "admin"
    return "other"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

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


def answered_by(scope: dict[str, Any], workflow: str, version: str) -> None:
    scope[MODEL_KEY] = (workflow, version)
