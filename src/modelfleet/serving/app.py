"""The FastAPI application: wiring, limits, error mapping, lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelfleet import __version__
from modelfleet.config import ServingPolicy
from modelfleet.errors import ModelfleetError, http_status, retry_after_s
from modelfleet.host.cores import usable_cores
from modelfleet.host.logs import configure_logging
from modelfleet.serving import admin, feedback, openapi, tfserving, v2
from modelfleet.serving.auth import Authenticator
from modelfleet.serving.background_writer import BackgroundWriter
from modelfleet.serving.heap import settle_heap
from modelfleet.serving.metrics import Metrics, MetricsMiddleware
from modelfleet.serving.monitor_metrics import MonitorCollector
from modelfleet.serving.pool import ModelPool
from modelfleet.serving.prediction_log import OriginMiddleware, PredictionLog
from modelfleet.serving.protocol import BODY_TIMED_OUT
from modelfleet.serving.registry_watcher import RegistryWatcher
from modelfleet.serving.request_tally import RequestTally
from modelfleet.serving.service import PredictionService, pixel_budget
from modelfleet.serving.shadow import ShadowMirror
from modelfleet.serving.wire import json_response
from modelfleet.serving.workers import run_workers, worker_count
from modelfleet.settings import (
    SERVE_GRPC_ADDRESS_ENV,
    SERVE_INSECURE_LOCAL_ENV,
    EndpointLimits,
    Settings,
    endpoint_limits,
    serve_grpc_address,
    serve_insecure_local,
)

log = logging.getLogger("modelfleet.serving")
MAX_BODY_BYTES = 32 * 1024 * 1024
CLIENT_GONE = 499  # nginx's status for a client that left before the answer (metrics only)


def create_app(
    pool: ModelPool,
    settings: Settings,
    *,
    database_url: str | None,
    auth: Authenticator,
    metrics: Metrics | None = None,
    poll_s: float = 5.0,
    limits: EndpointLimits | None = None,
    fleet_policies: Callable[[], dict[str, ServingPolicy]] | None = None,
    grpc_address: str | None = None,
    prediction_log: PredictionLog | None = None,
    shadow: ShadowMirror | None = None,
    request_tally: RequestTally | None = None,
) -> FastAPI:
    """The endpoint. Without `database_url` nothing follows the registry (benchmarks):
    the pool serves what it was given and keys are those added to `auth`. With
    `fleet_policies` (the declared workflows' serving policies, loaded afresh) the pool
    follows workflows added and archived as it follows the registry. With `grpc_address`
    (host:port) the app's lifespan also serves gRPC there, in the same event loop."""
    limits = limits or auth.limits
    metrics = metrics or Metrics()
    metrics.follow(pool)
    watcher = None
    if database_url is not None:
        # the monitors' figures and shadow agreement, from Postgres (serving/monitor_metrics)
        metrics.registry.register(MonitorCollector(database_url))

        def synced(applications_changed: bool) -> None:
            if applications_changed:  # keys, revocations or grants: verify keys afresh
                auth.invalidate()

        watcher = RegistryWatcher(
            pool, database_url, poll_s=poll_s, on_sync=synced, fleet_policies=fleet_policies
        )

    # the threads that write off the request path
    writers: list[PredictionLog | ShadowMirror | RequestTally] = [
        thread for thread in (request_tally, prediction_log, shadow) if thread is not None
    ]

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if watcher is not None:
            watcher.start()
        for writer in writers:
            writer.start()
        grpc_server = None
        try:  # the threads stop, and write what they hold, however the rest ends
            if grpc_address is not None:
                from modelfleet.serving.grpc import server as grpc_serving

                grpc_server = await grpc_serving.start(
                    grpc_address,
                    service,
                    auth,
                    metrics,
                    ready,
                    tally=request_tally,
                    limits=limits,
                    max_message_bytes=MAX_BODY_BYTES,
                )
            yield
            if grpc_server is not None:
                await grpc_server.stop(grace=2.0)
            if shadow is not None:  # the rows still gathered, before the writer's last flush
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(shadow.settle(), timeout=5.0)
        finally:
            if watcher is not None:
                watcher.stop()
            stop_writers(writers, timeout_s=5.0)

    app = FastAPI(
        title="modelfleet prediction endpoint",
        version=__version__,
        lifespan=lifespan,
        redirect_slashes=False,  # an API path has one spelling; anything else is a 404
        docs_url=None,  # openapi.install serves /docs and /redoc with local assets
        redoc_url=None,
        description=(
            "Many workflows' models over TF Serving's REST API and the Open Inference "
            "Protocol (V2). Send `Authorization: Bearer <API key>`; unversioned requests "
            "resolve through your application's pin. Every answer names its version in "
            "`model_version` and the `X-Model-Version` header. Errors are "
            '`{"error": "..."}`; 429 and 503 carry `Retry-After`.'
        ),
    )
    service = PredictionService(
        pool, pixel_budget(limits.pixel_budget, limits.queue_timeout_s), prediction_log, shadow
    )

    def ready() -> bool:
        return watcher is None or watcher.synced.is_set()

    app.include_router(tfserving.router(service, auth))
    app.include_router(v2.router(service, auth, ready))
    if database_url is not None:
        app.include_router(admin.router(settings, database_url, auth))
        app.include_router(feedback.router(settings, database_url, auth))

    @app.get(
        "/healthz",
        tags=["operations"],
        summary="Synced with the registry; what is loaded; which worker process answered",
    )
    def health() -> Response:
        return json_response({"ready": ready(), "loaded": pool.loaded(), "pid": os.getpid()})

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
    )
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(ModelfleetError)
    async def modelfleet_error(_: Request, exc: ModelfleetError) -> Response:
        return _error(str(exc), http_status(exc), retry_after_s=retry_after_s(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _error(problems, 400)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> Response:
        return _error(str(exc.detail), exc.status_code, headers=exc.headers)  # 405: Allow

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, _: ClientDisconnect) -> Response:
        return _gone(request.scope)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(f"internal error: {type(exc).__name__}", 500)

    openapi.install(app)
    # the ASGI middlewares in front of FastAPI, typed as the app they wrap for callers
    return MetricsMiddleware(  # type: ignore[return-value]
        OriginMiddleware(BodyLimit(app, MAX_BODY_BYTES)), metrics, request_tally
    )


def stop_writers(writers: Sequence[BackgroundWriter[Any]], *, timeout_s: float) -> None:
    """The writers' last flushes, all at once and within one deadline: one after another,
    with Postgres slow, they could outlast the supervisor's patience with a worker."""
    for writer in writers:
        writer.ask_to_stop()
    deadline = time.monotonic() + timeout_s
    for writer in writers:
        writer.stop(timeout_s=max(0.0, deadline - time.monotonic()))


def _error(
    message: str,
    status: int,
    *,
    retry_after_s: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    sent = dict(headers or {})
    if status == 401:
        sent["WWW-Authenticate"] = "Bearer"
    if retry_after_s is not None:
        sent["Retry-After"] = str(retry_after_s)
    if status == 408:
        sent["Connection"] = "close"
    return json_response({"error": message}, status_code=status, headers=sent or None)


def _gone(scope: Scope) -> Response:
    """The client left mid-request (or its body was too slow): nothing to answer, but the
    metrics count it as 499 (or 408), not as a server error, and the log stays quiet."""
    timed_out = bool(scope.get(BODY_TIMED_OUT))
    log.debug(
        "%s %s: %s",
        scope.get("method"),
        scope.get("path"),
        "body timed out" if timed_out else "client disconnected before the answer",
    )
    return Response(status_code=408 if timed_out else CLIENT_GONE)


class BodyLimit:
    """413 for bodies over `limit` bytes: by Content-Length up front, or while
    streaming a chunked body (pure ASGI, no per-request middleware task)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (
            not length.isdigit() or len(length) > 12 or int(length) > self.limit
        ):
            await _error(
                f"body of {length[:20].decode(errors='replace')} bytes exceeds {self.limit}", 413
            )(scope, receive, send)
            return
        if length is not None:
            await self.app(scope, receive, send)
            return
        # No Content-Length (chunked): read it all here, within the limit, then replay.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                await _gone(scope)(scope, receive, send)
                return
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                await _error(f"body exceeds {self.limit} bytes", 413)(scope, receive, send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def tune_threads(workers: int = 1) -> None:
    """TF's thread pools for one of `workers` serving processes: intra-op = its share of
    the cores (one batch uses them all), inter-op = 2 (ops of different models overlap)."""
    import tensorflow as tf

    cores = usable_cores()
    tf.config.threading.set_intra_op_parallelism_threads(max(1, cores // workers))
    tf.config.threading.set_inter_op_parallelism_threads(2)


def prepare_process() -> int:
    """Set up one endpoint worker process before TensorFlow runs anything (logging,
    thread pools, heap); returns how many workers share the machine."""
    configure_logging()
    workers = worker_count()
    tune_threads(workers)
    settle_heap()
    return workers


def serve(
    host: str, port: int, *, workers: int = 1, insecure_local: bool = False, grpc_port: int = 0
) -> None:
    """Run the endpoint (blocking): `modelfleet serve`; gRPC too unless `grpc_port` is 0."""
    configure_logging()
    os.environ[SERVE_INSECURE_LOCAL_ENV] = "1" if insecure_local else ""  # for each worker
    grpc_host = f"[{host}]" if ":" in host else host
    os.environ[SERVE_GRPC_ADDRESS_ENV] = f"{grpc_host}:{grpc_port}" if grpc_port else ""
    run_workers(
        f"{__name__}:worker_app",
        host,
        port,
        workers=workers,
        also_ports=(grpc_port,) if grpc_port else (),
    )


def worker_app() -> ASGIApp:
    """One endpoint process, wired from the environment that `serve` set (the factory
    that each worker calls)."""
    from modelfleet.config import load_fleet
    from modelfleet.registry import db
    from modelfleet.registry.store.monitoring import PredictionLogWriter
    from modelfleet.registry.store.request_counts import RequestCountWriter
    from modelfleet.registry.store.shadow import ShadowWriter
    from modelfleet.settings import get_settings

    workers = prepare_process()
    settings = get_settings()

    def fleet_policies() -> dict[str, ServingPolicy]:
        fleet = load_fleet(settings.config_file, settings.workflows_d, skip_bad_user_files=True)
        return {name: wf.serving for name, wf in fleet.workflows.items()}

    metrics = Metrics(multiprocess=workers > 1)
    pool = ModelPool(
        settings.serving_root,
        fleet_policies(),
        on_batch=lambda wf, version, rows: metrics.batch_size.labels(wf, version).observe(rows),
    )
    url = db.database_url()
    limits = endpoint_limits()

    def sample_rates() -> dict[str, float]:
        fleet = load_fleet(settings.config_file, settings.workflows_d, skip_bad_user_files=True)
        return {name: wf.monitor.sample_rate for name, wf in fleet.workflows.items()}

    prediction_log = PredictionLog(
        PredictionLogWriter(db.engine(url)),
        sample_rates,
        count=lambda outcome, rows: metrics.prediction_log.labels(outcome).inc(rows),
    )

    def shadow_fractions() -> dict[str, float]:
        fleet = load_fleet(settings.config_file, settings.workflows_d, skip_bad_user_files=True)
        return {name: wf.release.shadow_fraction for name, wf in fleet.workflows.items()}

    shadow = ShadowMirror(pool, ShadowWriter(db.engine(url)), shadow_fractions)
    tally = RequestTally(RequestCountWriter(db.engine(url)), lambda wf: wf in pool.policies)
    return create_app(
        pool,
        settings,
        database_url=url,
        auth=Authenticator(url, insecure_local=serve_insecure_local(), limits=limits),
        metrics=metrics,
        limits=limits,
        fleet_policies=fleet_policies,
        grpc_address=serve_grpc_address(),
        prediction_log=prediction_log,
        shadow=shadow,
        request_tally=tally,
    )
