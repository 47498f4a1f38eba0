"""The gRPC server of one endpoint worker: `grpc.aio` in the worker's own event loop
(started and stopped by the app's lifespan), so that its calls share the worker's pool,
batchers and key cache with HTTP, and a batch mixes requests of both.

Every worker binds the one port with SO_REUSEPORT (`grpc.so_reuseport`), as its HTTP
socket does (`workers.py`): the kernel spreads connections over the workers. Messages are
bounded as HTTP bodies are; streams per connection and calls in flight per worker are
capped, beyond which gRPC answers RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import grpc

from modelfleet.errors import PlatformError
from modelfleet.serving.auth import Authenticator
from modelfleet.serving.grpc import v2_service
from modelfleet.serving.grpc.calls import Shared
from modelfleet.serving.metrics import Metrics
from modelfleet.serving.request_tally import RequestTally
from modelfleet.serving.service import PredictionService
from modelfleet.settings import EndpointLimits

log = logging.getLogger("modelfleet.serving")
MAX_STREAMS = 100  # concurrent calls on one connection (HTTP/2 streams)


async def start(
    address: str,
    service: PredictionService,
    auth: Authenticator,
    metrics: Metrics,
    ready: Callable[[], bool],
    *,
    tally: RequestTally | None = None,
    limits: EndpointLimits,
    max_message_bytes: int,
) -> grpc.aio.Server:
    """Serve both gRPC services on `address` (host:port) until `stop` is awaited."""
    from modelfleet.serving.grpc import tfs_service  # TensorFlow's protos: the worker only

    server = grpc.aio.server(
        maximum_concurrent_rpcs=limits.max_connections,
        options=[
            ("grpc.so_reuseport", 1),
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_concurrent_streams", MAX_STREAMS),
        ],
    )
    shared = Shared(service, auth, metrics, ready, tally)
    server.add_generic_rpc_handlers([v2_service.handlers(shared), tfs_service.handlers(shared)])
    try:
        server.add_insecure_port(address)
    except RuntimeError as exc:
        raise PlatformError(f"cannot serve gRPC on {address}: {exc}") from exc
    await server.start()
    log.info("gRPC (KServe V2, TF Serving) on %s", address)
    return server
