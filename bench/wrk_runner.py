"""Drive wrk from Python: build request bodies, run a load, parse its JSON line.

wrk is the load generator because it is C and cheap per request: on a 2-core box a
Python client would eat the CPU the server under test needs. Bodies are built here
byte for byte (JSON, or multipart with its boundary) and replayed by
`bench/wrk/predict.lua`, which prints one `JSON {...}` line that `run_wrk` returns.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

SCRIPT = Path(__file__).resolve().parent / "wrk" / "predict.lua"
JSON_PREFIX = "JSON "


class WrkError(RuntimeError):
    """wrk failed, printed no result line, or the target did not answer 2xx."""


def run_wrk(
    url: str,
    body_path: Path | str,
    content_type: str,
    connections: int,
    duration_s: float,
    threads: int = 1,
    auth: str | None = None,
    *,
    timeout_s: float = 30.0,
    preflight: bool = True,
    wrk: str = "wrk",
) -> dict[str, Any]:
    """POST the body at `url` for `duration_s` over `connections`; return wrk's results.

    Returns the `JSON` line of predict.lua as a dict: `requests`, `bytes`, `duration_s`,
    `requests_per_s` (all responses), `ok_requests_per_s` (minus `errors.status`),
    `errors` {connect, read, write, status, timeout}, and latency mean/stdev/min/max and
    p50/p90/p99 in ms. wrk counts a response with status > 399 in `errors.status`; the
    preflight (one request first, no redirects followed) also fails on a 1xx/3xx, so a
    wrong URL cannot pass as a fast benchmark. `auth` is the Authorization header value,
    passed through the environment so it never shows in a process list. `timeout_s` is
    wrk's per-request timeout (its 2 s default would turn a slow server into errors).
    """
    body_path = Path(body_path).resolve()
    if connections < threads:
        raise ValueError(f"wrk needs connections >= threads, got {connections} < {threads}")
    if preflight:
        check_endpoint(url, body_path.read_bytes(), content_type, auth)
    env = {**os.environ, "BENCH_BODY": str(body_path), "BENCH_CONTENT_TYPE": content_type}
    env.pop("BENCH_AUTH", None)
    if auth:
        env["BENCH_AUTH"] = auth
    command = [
        shutil.which(wrk) or wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        f"--timeout={max(1, round(timeout_s))}s",
        "-s",
        str(SCRIPT),
        url,
    ]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=duration_s + timeout_s + 30
    )
    for line in done.stdout.splitlines():
        if line.startswith(JSON_PREFIX):
            result: dict[str, Any] = json.loads(line[len(JSON_PREFIX) :])
            result.update(connections=connections, threads=threads, url=url)
            return result
    raise WrkError(
        f"wrk exited {done.returncode} without a result line\n"
        f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    )


def check_endpoint(
    url: str, body: bytes, content_type: str, auth: str | None = None, timeout_s: float = 60.0
) -> int:
    """Send one request (no redirects followed); raise `WrkError` unless it answers 2xx."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None:
        raise ValueError(f"only http:// URLs are supported, got {url!r}")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"Content-Type": content_type}
    if auth:
        headers["Authorization"] = auth
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout_s)
    try:
        connection.request("POST", path or "/", body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
    finally:
        connection.close()
    if not 200 <= response.status < 300:
        raise WrkError(f"POST {url} answered {response.status}: {answer[:500]!r}")
    return response.status


def json_instances_body(
    input_shape: Sequence[int], batch: int = 1, value: float = 0.5
) -> tuple[bytes, str]:
    """`{"instances": [...]}` of `batch` constant images, as `:predict` takes it."""
    instances = np.full((batch, *input_shape), value, dtype=np.float32).tolist()
    return json.dumps({"instances": instances}).encode(), "application/json"


def multipart_body(
    field: str, filename: str, data: bytes, content_type: str = "image/png"
) -> tuple[bytes, str]:
    """A multipart/form-data body with one file field; returns (bytes, Content-Type)."""
    boundary = "modelfleetbench" + os.urandom(8).hex()
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def png_bytes(image: np.ndarray) -> bytes:
    """Encode a uint8 HxW, HxWx1 or HxWx3 array as PNG, without PIL or TF."""
    image = np.asarray(image, dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        color_type = 0  # grayscale
    elif image.ndim == 3 and image.shape[2] == 3:
        color_type = 2  # RGB
    else:
        raise ValueError(f"need HxW, HxWx1 or HxWx3, got shape {image.shape}")
    height, width = image.shape[:2]
    rows = image.reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)  # filter type 0 per row

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def wait_for_port(port: int, host: str = "127.0.0.1", timeout_s: float = 120.0) -> None:
    """Block until something accepts connections on `port`, or raise TimeoutError."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s:.0f} s")


@contextlib.contextmanager
def running_server(
    command: Sequence[str],
    port: int,
    *,
    ready_timeout_s: float = 120.0,
    cwd: Path | None = None,
    log: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process, wait for its port, and stop it (SIGTERM, then SIGKILL).

    With `log`, the server's stdout and stderr go to that file (TF's start-up noise
    stays out of the benchmark's output), and its tail is in the error if it dies early.
    """
    with contextlib.ExitStack() as stack:
        output = None if log is None else stack.enter_context(open(log, "ab"))
        process = subprocess.Popen(list(command), cwd=cwd, stdout=output, stderr=output)
        try:
            deadline = time.monotonic() + ready_timeout_s
            while True:
                if process.poll() is not None:
                    tail = "" if log is None else Path(log).read_text(errors="replace")[-3000:]
                    raise RuntimeError(
                        f"{command[0]} exited {process.returncode} before listening"
                        + (f"; the end of {log}:\n{tail}" if tail else "")
                    )
                try:
                    wait_for_port(port, timeout_s=min(1.0, max(0.0, deadline - time.monotonic())))
                    break
                except TimeoutError:
                    if time.monotonic() >= deadline:
                        raise
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
