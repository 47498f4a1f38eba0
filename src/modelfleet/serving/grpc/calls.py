"""What every gRPC method shares: the request parsed inside the handler (so that bytes
that are no valid message are INVALID_ARGUMENT, not gRPC's INTERNAL), the caller's key
from the `authorization` metadata through the HTTP routes' Authenticator, modelfleet's
errors as gRPC status codes (as HTTP statuses over HTTP), the request metrics, and the
inference calls' counts for the error-rate monitor."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message

from modelfleet.errors import BadRequest, ModelfleetError, http_status, retry_after_s
from modelfleet.serving.auth import Authenticator, Principal
from modelfleet.serving.metrics import Metrics
from modelfleet.serving.pool import LoadedModel
from modelfleet.serving.request_tally import RequestTally
from modelfleet.serving.service import PredictionService

log = logging.getLogger("modelfleet.serving")
CLIENT_GONE = 499  # as over HTTP: the client left before the answer
MAX_NAME_CHARS = 128  # a workflow name in a message field (a URL segment is bounded too)

# Each HTTP status the endpoint answers, as gRPC says it. Bad input of any kind, a limit
# included, is INVALID_ARGUMENT; nothing a client sends is INTERNAL.
CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    408: grpc.StatusCode.DEADLINE_EXCEEDED,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
}
Handler = Callable[[Any, "Call"], Awaitable[Message]]


class Call:
    """One RPC: who is calling, and which model answered (for metrics and metadata)."""

    def __init__(self, context: grpc.aio.ServicerContext[Any, Any], shared: Shared) -> None:
        self.context = context
        self.shared = shared
        self.answered: tuple[str, str] = ("", "")
        # the workflow an inference call names, set first by its handler: its outcome,
        # refused or failed included, counts towards that workflow's error rate
        self.inference: str | None = None
        self.accepted = False  # the caller's key was accepted

    async def principal(self) -> Principal:
        metadata = self.context.invocation_metadata() or ()
        headers = {key.lower(): value for key, value in metadata if isinstance(value, str)}
        found = await self.shared.auth.principal(headers, peer_address(self.context.peer()))
        self.accepted = True
        return found

    async def model(
        self, workflow: str, *, version: str | None = None, label: str | None = None
    ) -> LoadedModel:
        """The model the request means, resolved as an HTTP URL's is (pins, versions)."""
        if not workflow or len(workflow) > MAX_NAME_CHARS:
            raise BadRequest(f"the model name must be 1 to {MAX_NAME_CHARS} characters")
        principal = await self.principal()
        model = self.shared.service.resolve(principal, workflow, version=version, label=label)
        self.answered = (model.workflow, model.version)
        self.context.set_trailing_metadata((("x-model-version", model.version),))
        return model


@dataclass(frozen=True)
class Shared:
    """What the gRPC services share with the HTTP routes of the same worker."""

    service: PredictionService
    auth: Authenticator
    metrics: Metrics
    ready: Callable[[], bool]
    tally: RequestTally | None = None  # the error-rate monitor's counts


def peer_address(peer: str) -> str:
    """The client's address from gRPC's peer ("ipv4:1.2.3.4:5678", "ipv6:[::1]:5678"):
    the failed-key limit counts per address, as over HTTP."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.partition("]")[0].lstrip("[")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    return rest


def unary(
    request_class: type[Message], handler: Handler, shared: Shared, protocol: str
) -> grpc.RpcMethodHandler[Any, Any]:
    """A unary method that receives the raw request bytes and parses them itself."""

    async def behavior(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Message:
        began = time.perf_counter()
        call = Call(context, shared)
        status = 200
        try:
            try:
                request = request_class.FromString(raw)
            except (DecodeError, RuntimeError, ValueError):
                raise BadRequest(
                    f"the request is not a valid {request_class.DESCRIPTOR.full_name} message"
                ) from None
            return await handler(request, call)
        except ModelfleetError as exc:
            status = http_status(exc)
            wait = retry_after_s(exc)
            if wait is not None:
                context.set_trailing_metadata((("retry-after", str(wait)),))
            await context.abort(CODES.get(status, grpc.StatusCode.INTERNAL), str(exc))
            raise  # not reached: abort raises
        except asyncio.CancelledError:
            status = CLIENT_GONE
            raise
        except Exception as exc:
            status = 500
            log.exception("unexpected error in gRPC %s", protocol)
            await context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}")
            raise  # not reached
        finally:
            model, version = call.answered
            shared.metrics.requests.labels(model, version, str(status), protocol).inc()
            shared.metrics.latency.labels(model, protocol).observe(time.perf_counter() - began)
            if shared.tally is not None and call.inference is not None and call.accepted:
                shared.tally.count(call.inference, status)

    return grpc.unary_unary_rpc_method_handler(
        behavior, request_deserializer=None, response_serializer=_serialized
    )


def _serialized(message: Message) -> bytes:
    data: bytes = message.SerializeToString()
    return data
