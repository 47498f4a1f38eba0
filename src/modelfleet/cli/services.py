"""`modelfleet serve/ingest/warm-runner`: the platform's long-running processes, in the
foreground (`up` starts them the same way)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from modelfleet.cli.base import command, option
from modelfleet.errors import ConfigError
from modelfleet.settings import ENDPOINT_WORKERS_ENV, GRPC_PORT_ENV, HOME_ENV, INGEST_WORKERS_ENV


@command("serve", help="run the prediction endpoint (foreground)")
@option("--host", default="127.0.0.1")
@option("--port", type=int, default=8501)
@option(
    "--workers",
    type=int,
    default=None,
    help=f"processes accepting on the port (default ${ENDPOINT_WORKERS_ENV} or 1); "
    "the number of cores gives the most requests/s, each loads every model",
)
@option(
    "--grpc-port",
    type=int,
    default=None,
    help=f"gRPC port, KServe V2 and TF Serving (default ${GRPC_PORT_ENV} or 8500; 0: none)",
)
@option(
    "--insecure-local",
    is_flag=True,
    help="do not check API keys (every caller is admin): demos on your own machine only",
)
def serve(
    host: str, port: int, workers: int | None, grpc_port: int | None, insecure_local: bool
) -> None:
    from modelfleet.serving.app import serve
    from modelfleet.settings import get_settings

    settings = get_settings()
    workers = settings.endpoint_workers if workers is None else workers
    grpc_port = settings.grpc_port if grpc_port is None else grpc_port
    if not 0 <= grpc_port <= 65_535:
        raise ConfigError(f"--grpc-port {grpc_port} is no port (1 to 65535, or 0 for none)")
    serve(host, port, workers=workers, insecure_local=insecure_local, grpc_port=grpc_port)


@command("ingest", help="run the stream classifier (foreground)")
@option("--once", is_flag=True, help="process what is there, then exit")
@option(
    "--workers",
    type=int,
    default=None,
    help=f"processes sharing the landing folders (default ${INGEST_WORKERS_ENV} or 2)",
)
def ingest(once: bool, workers: int | None) -> None:
    from modelfleet.settings import get_settings

    settings = get_settings()
    if once:
        if workers not in (None, 1):
            raise ConfigError("--once scans in this process: it takes no --workers")
        from modelfleet.config import load_fleet
        from modelfleet.ingest.watcher import Ingestor
        from modelfleet.registry import db

        ingestor = Ingestor(settings, load_fleet(settings.config_file), db.database_url())
        print(json.dumps(ingestor.scan_once()))
        return
    from modelfleet.ingest.run import run

    run(settings.ingest_workers if workers is None else workers)


@command(
    "warm-runner",
    help="run dvc, gto and stage commands for the platform with imports done (foreground)",
)
@option(
    "--socket",
    type=click.Path(path_type=Path),
    default=None,
    help=f"default ${HOME_ENV}/run/warm.sock",
)
@option(
    "--stage-mirror/--no-stage-mirror",
    default=True,
    show_default=True,
    help="also mirror Postgres aliases into GTO stages (what `modelfleet up` runs)",
)
def warm_runner(socket: Path | None, stage_mirror: bool) -> None:
    from modelfleet.settings import get_settings
    from modelfleet.warm.server import run

    run(socket or get_settings().warm_socket, stage_mirror=stage_mirror)
