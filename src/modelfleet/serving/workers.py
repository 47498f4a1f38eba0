"""Several endpoint processes on one port, so that HTTP and JSON use every core.

One event loop parses requests on one core, and with a real model the inference
needs the other: a single process tops out near 140% CPU on two cores. Each worker
is a whole endpoint (its own pool, batcher and registry watcher; the endpoint is
stateless) with its own listening socket on the same port (`SO_REUSEPORT`), so the
kernel spreads connections evenly. A shared socket would not: whichever worker wakes
first accepts a whole burst of new connections, and one event loop ends up with most
clients while the other idles.

Workers share only the port and prometheus_client's multiprocess files, so that
/metrics counts the requests of all of them. `host.supervise` starts, replaces
and stops them, a single worker too: a crash restarts it with backoff, and
`modelfleet status` shows `restarting`.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile

from modelfleet.errors import ConfigError, PlatformError
from modelfleet.host.supervise import supervise
from modelfleet.serving.protocol import server_options
from modelfleet.settings import SERVE_WORKERS_ENV, endpoint_limits, serve_worker_count


def worker_count() -> int:
    """How many endpoint processes `run_workers` started (for one worker's set-up)."""
    return serve_worker_count()


def run_workers(
    factory: str,
    host: str,
    port: int,
    *,
    workers: int = 1,
    log_level: str = "info",
    also_ports: tuple[int, ...] = (),
) -> None:
    """Serve the app that `factory` ("module:function") builds, in `workers` processes
    (blocking; SIGTERM or Ctrl-C stops them all). `also_ports`: other ports the workers
    bind with SO_REUSEPORT themselves (gRPC), checked free the same way."""
    if workers < 1:
        raise ConfigError(f"the endpoint needs at least 1 worker, not {workers}")
    os.environ[SERVE_WORKERS_ENV] = str(workers)
    for each in (port, *also_ports):
        _port_is_free(host, each)
    # One worker is supervised too: a crash restarts it with backoff, and `status` shows it.
    metrics_dir = tempfile.mkdtemp(prefix="modelfleet-metrics-") if workers > 1 else None
    if metrics_dir is not None:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # read by each worker's import
    try:
        supervise("endpoint", _serve_one, lambda _: (factory, host, port, log_level), workers)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _port_is_free(host: str, port: int) -> None:
    """Fail as one server would if something listens there already: the workers'
    `SO_REUSEPORT` sockets would otherwise share the port with it (another endpoint
    of the same user) without a word."""
    _bound(host, port, reuse_port=False).close()


def _bound(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PlatformError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


def _serve_one(factory: str, host: str, port: int, log_level: str) -> None:
    """One worker: build the app, then listen on its own socket for the shared port."""
    import uvicorn
    from uvicorn.importer import import_from_string

    app = import_from_string(factory)()
    sock = _bound(host, port, reuse_port=True)
    sock.listen(2048)
    config = uvicorn.Config(
        app, log_level=log_level, access_log=False, **server_options(endpoint_limits())
    )
    uvicorn.Server(config).run(sockets=[sock])
