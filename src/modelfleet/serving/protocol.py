"""HTTP/1.1 connections with limits that uvicorn lacks: a connection cap per worker and
deadlines for a request's headers and for its body.

uvicorn closes only idle keep-alive connections (`timeout_keep_alive`); a client that
sends its headers or its body a byte at a time holds a connection and its buffers
forever, and `limit_concurrency` answers a plain 503 without Retry-After only once a
request's headers have arrived. This subclass of uvicorn's httptools protocol keeps
one timer per connection:

- from the connection, and from a request's first byte, until its last header:
  `header_timeout_s`, then 408 and close (and 431 for headers over 64 KiB);
- from the last header until the body's end: `body_timeout_s`, then 408 and close.
  The app, waiting for the rest of the body, then sees the client gone; `BODY_TIMED_OUT`
  in the scope tells the metrics to count it as 408, not as a disconnect.

A connection beyond `max_connections` is answered 503 with Retry-After at once and
closed, before anything of it is read.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from modelfleet.settings import EndpointLimits

log = logging.getLogger("modelfleet.serving")
BODY_TIMED_OUT = "modelfleet.body_timed_out"  # scope key set when the body deadline passed
MAX_HEADER_BYTES = 64 * 1024  # request line and headers together
_REASONS = {
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


def raw_response(status: int, message: str, retry_after_s: int | None = None) -> bytes:
    """A complete JSON error response that closes the connection, for writing straight
    to the socket when there is no app to answer (before or instead of it)."""
    body = orjson.dumps({"error": message})
    head = [
        b"HTTP/1.1 %d %s" % (status, _REASONS[status]),
        b"content-type: application/json",
        b"content-length: %d" % len(body),
        b"connection: close",
    ]
    if retry_after_s is not None:
        head.append(b"retry-after: %d" % retry_after_s)
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def protocol_class(limits: EndpointLimits) -> type[asyncio.Protocol]:
    """uvicorn's `http=` protocol for one worker, with `limits` built in."""
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), {"limits": limits})


def server_options(limits: EndpointLimits) -> dict[str, Any]:
    """uvicorn.Config / uvicorn.run arguments that apply `limits`."""
    return {"http": protocol_class(limits), "timeout_keep_alive": limits.keepalive_timeout_s}


class HeadersTooLarge(Exception):
    """Raised from a parser callback; httptools turns it into a parse error."""


class GuardedHttpProtocol(HttpToolsProtocol):
    limits = EndpointLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0

    # -- connection --

    # asyncio hands a stream protocol a Transport; BaseProtocol declares BaseTransport
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            log.debug("refused a connection: %d open", len(self.connections) - 1)
            self._answer_and_close(
                503,
                f"the endpoint has {self.limits.max_connections} connections open; try again",
                retry_after_s=1,
            )
            return
        self._arm(self.limits.header_timeout_s, self._headers_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self.transport.is_closing():  # answered and closing: read nothing more
            super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        if not self.transport.is_closing():  # not after our own answer (431)
            super().send_400_response(msg)

    # -- parser callbacks --

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._arm(self.limits.header_timeout_s, self._headers_too_slow)

    def on_url(self, url: bytes) -> None:
        self._count_header_bytes(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.limits.body_timeout_s, self._body_too_slow)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    # -- deadlines --

    def _arm(self, seconds: float, handler: Any) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, handler)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_too_slow(self) -> None:
        self._deadline = None
        if self.cycle is not None and not self.cycle.response_complete:
            # The next request's headers lag while this one is still answered (pipelining):
            # finish that answer, then close.
            self.cycle.keep_alive = False
            return
        log.debug(
            "closed %s: no complete headers within %gs", self.client, self.limits.header_timeout_s
        )
        self._answer_and_close(
            408, f"request headers did not arrive within {self.limits.header_timeout_s:g} s"
        )

    def _body_too_slow(self) -> None:
        self._deadline = None
        cycle = self.cycle
        if cycle is None or cycle.response_started:
            self.transport.close()  # answered already; the rest of the body is not wanted
            return
        log.debug("closed %s: body incomplete after %gs", self.client, self.limits.body_timeout_s)
        # our own key in the scope; uvicorn's TypedDict lists only ASGI's
        cycle.scope[BODY_TIMED_OUT] = True  # type: ignore[literal-required]
        self._answer_and_close(
            408, f"the request body did not arrive within {self.limits.body_timeout_s:g} s"
        )

    def _count_header_bytes(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_HEADER_BYTES:
            self._disarm()
            self._answer_and_close(431, f"request line and headers exceed {MAX_HEADER_BYTES} bytes")
            raise HeadersTooLarge  # stops the parser: no app runs for this request

    def _answer_and_close(
        self, status: int, message: str, retry_after_s: int | None = None
    ) -> None:
        if not self.transport.is_closing():
            self.transport.write(raw_response(status, message, retry_after_s))
            self.transport.close()
