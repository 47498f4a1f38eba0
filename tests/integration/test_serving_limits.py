"""The endpoint over real HTTP (uvicorn with modelfleet's protocol, in a thread; a
stand-in model): slow headers and bodies are answered 408 and closed, idle keep-alive
connections closed, connections beyond the limit refused with 503 and Retry-After, a
client gone mid-body counted as 499 without a traceback, oversized headers 431.
Timeouts are set small through EndpointLimits; nothing here times the server."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from modelfleet.host.ports import free_port
from modelfleet.serving.app import create_app
from modelfleet.serving.auth import Authenticator, Principal
from modelfleet.serving.pool import ModelPool
from modelfleet.serving.protocol import server_options
from modelfleet.settings import EndpointLimits, get_settings
from tests.unit.serving.conftest import KEYS, fake_model

pytestmark = [pytest.mark.integration]
SMALL = EndpointLimits(header_timeout_s=0.5, body_timeout_s=0.5, keepalive_timeout_s=0.5)
GIVE_UP_S = 10.0  # the client's own patience: far beyond every server timeout above


@contextmanager
def live(limits: EndpointLimits = SMALL) -> Iterator[str]:
    """The endpoint app on a free port, served as `modelfleet serve` serves it."""
    pool = ModelPool(get_settings().serving_root, {})
    pool.add(fake_model(), "production")
    auth = Authenticator(None, limits=limits)
    auth.add_static(KEYS["admin"], Principal("ops", admin=True))
    auth.add_static(KEYS["app"], Principal("app", grants={"digits": "production"}))
    app = create_app(pool, get_settings(), database_url=None, auth=auth, limits=limits)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, **server_options(limits)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with live() as url:
        yield url


def connect(url: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", httpx.URL(url).port), timeout=GIVE_UP_S)
    return sock


def until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def requests_counted(url: str, status: int, protocol: str = "tfserving") -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    pattern = (
        rf'modelfleet_requests_total\{{[^}}]*protocol="{protocol}",status="{status}"[^}}]*\}} (\S+)'
    )
    return sum(float(v) for v in re.findall(pattern, text))


def eventually(check, timeout_s: float = GIVE_UP_S):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return result


def test_a_client_that_sends_its_headers_slowly_is_answered_408_and_closed(endpoint):
    sock = connect(endpoint)
    closed = False
    for _ in range(int(GIVE_UP_S / 0.1)):  # a byte every 0.1 s: never idle, never done
        try:
            sock.sendall(b"X-Drip: a\r\n" if _ else b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        except OSError:  # reset: the server closed it
            closed = True
            break
        sock.settimeout(0.1)
        try:
            if sock.recv(65536, socket.MSG_PEEK):
                closed = True
                break
        except TimeoutError:
            continue
    assert closed, "the server kept a connection whose headers never ended"
    sock.settimeout(GIVE_UP_S)
    answer = until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"request headers did not arrive within 0.5 s" in answer


def test_a_silent_connection_is_closed_after_the_header_timeout(endpoint):
    with connect(endpoint) as sock:
        assert until_closed(sock).startswith(b"HTTP/1.1 408 ")


def test_a_body_that_does_not_arrive_in_time_is_answered_408_and_counted(endpoint):
    before = requests_counted(endpoint, 408)
    with connect(endpoint) as sock:
        sock.sendall(
            b"POST /v1/models/digits:predict HTTP/1.1\r\nHost: t\r\n"
            b"Authorization: Bearer " + KEYS["app"].encode() + b"\r\n"
            b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"instances"'
        )
        answer = until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"the request body did not arrive within 0.5 s" in answer
    assert eventually(lambda: requests_counted(endpoint, 408) == before + 1)


def test_a_client_gone_mid_body_counts_as_499_and_leaves_no_traceback(endpoint, caplog):
    before = requests_counted(endpoint, 499)
    with caplog.at_level(logging.DEBUG):
        with connect(endpoint) as sock:
            sock.sendall(
                b"POST /v1/models/digits:predict HTTP/1.1\r\nHost: t\r\n"
                b"Authorization: Bearer " + KEYS["app"].encode() + b"\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
                + b'{"instances": ['
                * 10
            )
            time.sleep(0.05)  # the app is reading the body
        assert eventually(lambda: requests_counted(endpoint, 499) == before + 1)
    assert requests_counted(endpoint, 500) == 0
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert not noisy, [r.getMessage() for r in noisy]
    assert any("client disconnected before the answer" in r.getMessage() for r in caplog.records)


def test_an_idle_keep_alive_connection_is_closed(endpoint):
    with connect(endpoint) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        answer = until_closed(sock)  # the answer, then the close after 0.5 s idle
    assert answer.startswith(b"HTTP/1.1 200 ") and b'"ready":true' in answer


def test_connections_beyond_the_limit_get_503_with_retry_after():
    with live(EndpointLimits(max_connections=2, header_timeout_s=30)) as url:
        held = [connect(url), connect(url)]
        time.sleep(0.1)  # both accepted
        with connect(url) as third:
            answer = until_closed(third)
        assert answer.startswith(b"HTTP/1.1 503 ")
        assert b"retry-after: 1\r\n" in answer.lower()
        for sock in held:
            sock.close()
        assert eventually(lambda: httpx.get(f"{url}/healthz", timeout=5).status_code == 200)


def test_headers_over_64_kib_are_answered_431(endpoint):
    with connect(endpoint) as sock:
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n"
        )
        answer = until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 ")


@pytest.mark.parametrize(
    "length",
    [b"9" * 5000, b"99999999999999999999", b"-1", b"1e3"],
    ids=["5000 digits", "u64+", "negative", "float"],
)
def test_a_content_length_of_any_size_is_no_server_error(endpoint, length):
    with connect(endpoint) as sock:
        sock.sendall(
            b"POST /v1/models/digits:predict HTTP/1.1\r\nHost: t\r\nContent-Length: "
            + length
            + b"\r\n\r\n{}"
        )
        answer = until_closed(sock)
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500, answer[:200]


def test_no_request_above_was_a_server_error(endpoint):
    assert requests_counted(endpoint, 500) == 0
