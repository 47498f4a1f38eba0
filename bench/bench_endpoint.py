"""The real prediction endpoint for benchmarks, with no database.

Serves one exported bench model (`bench/models.py`) through modelfleet's own
`create_app` under uvicorn, wired as `modelfleet serve` wires it (same thread tuning,
same pool, batcher, auth, metrics and middlewares) except that nothing follows the
registry: the pool is given v1.0.0 as `production`, and one static API key is granted
that workflow. The key comes from the environment (BENCH_KEY), never argv, so it does
not show in a process list.

    BENCH_KEY=secret .venv/bin/python bench/bench_endpoint.py --port 8603 \
        --model-dir /tmp/bench-models --kind lenet [--max-batch 64] [--batch-timeout-ms 1.0] \
        [--workers 2] [--grpc-port 8604]

`--model-dir` is the `root` given to `export_bench_model`: the model is served from
`ROOT/serving/<name>/1000000`, and exported there first if it is missing. /metrics has
`modelfleet_batch_size` (rows per inference call), from which the mean batch is read.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

# Run as a script, this file's folder (bench/) is first on sys.path.
from models import KINDS, export_bench_model

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

KEY_ENV = "BENCH_KEY"
APP_ENV = "BENCH_ENDPOINT_APP"  # the app's arguments, for each worker process
VERSION = "v1.0.0"


def create_bench_app(
    model_dir: Path,
    kind: str,
    key: str,
    *,
    name: str | None = None,
    max_batch: int = 64,
    batch_timeout_ms: float = 1.0,
    multiprocess: bool = False,
    grpc_address: str | None = None,
):  # type: ignore[no-untyped-def]
    """The endpoint app serving `name` (default: the kind) v1.0.0 as production; with
    `grpc_address` (host:port) it serves gRPC there too, as `modelfleet serve` does."""
    from modelfleet.config import ServingPolicy
    from modelfleet.naming import Version
    from modelfleet.serving.app import create_app
    from modelfleet.serving.auth import Authenticator, Principal
    from modelfleet.serving.metrics import Metrics
    from modelfleet.serving.pool import ModelPool, load_version
    from modelfleet.settings import get_settings

    name = name or kind
    serving_root = ensure_exported(model_dir, kind, name)
    version = Version.parse(VERSION)

    metrics = Metrics(multiprocess=multiprocess)

    def on_batch(workflow: str, version_name: str, rows: int) -> None:
        metrics.batch_size.labels(workflow, version_name).observe(rows)

    policy = ServingPolicy(max_batch_size=max_batch, batch_timeout_ms=batch_timeout_ms)
    pool = ModelPool(serving_root, {name: policy}, on_batch=on_batch)
    pool.add(load_version(serving_root, name, version, policy, on_batch), "production")
    auth = Authenticator(None)
    auth.add_static(key, Principal("bench", grants={name: "production"}))
    return create_app(
        pool,
        get_settings(),
        database_url=None,
        auth=auth,
        metrics=metrics,
        grpc_address=grpc_address,
    )


def ensure_exported(model_dir: Path, kind: str, name: str) -> Path:
    """Export the bench model unless it is there; returns the serving root."""
    from modelfleet.naming import Version, serving_dir

    serving_root = model_dir / "serving"
    if not (serving_dir(serving_root, name, Version.parse(VERSION)) / "saved_model.pb").exists():
        export_bench_model(kind, model_dir, name=name)
    return serving_root


def bench_app():  # type: ignore[no-untyped-def]
    """One worker's app (the factory), set up as `modelfleet serve` sets up its own."""
    from modelfleet.serving.app import prepare_process

    workers = prepare_process()
    spec = json.loads(os.environ[APP_ENV])
    return create_bench_app(
        Path(spec["model_dir"]),
        spec["kind"],
        os.environ[KEY_ENV],
        name=spec["name"],
        max_batch=spec["max_batch"],
        batch_timeout_ms=spec["batch_timeout_ms"],
        multiprocess=workers > 1,
        grpc_address=spec.get("grpc_address"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--kind", default="lenet", choices=sorted(KINDS))
    parser.add_argument("--name", default=None, help="workflow name (default: the kind)")
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--batch-timeout-ms", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=1, help="endpoint processes")
    parser.add_argument("--grpc-port", type=int, default=0, help="gRPC port (0: none)")
    args = parser.parse_args()
    if not os.environ.get(KEY_ENV):
        parser.error(f"set the API key in the environment variable {KEY_ENV}")
    name = args.name or args.kind
    ensure_exported(args.model_dir, args.kind, name)  # once, not in each worker at once
    os.environ[APP_ENV] = json.dumps(
        {
            "model_dir": str(args.model_dir),
            "kind": args.kind,
            "name": name,
            "max_batch": args.max_batch,
            "batch_timeout_ms": args.batch_timeout_ms,
            "grpc_address": f"{args.host}:{args.grpc_port}" if args.grpc_port else None,
        }
    )
    from modelfleet.serving.workers import run_workers

    # uvicorn picks uvloop and httptools itself when they are installed.
    run_workers(
        "bench_endpoint:bench_app",
        args.host,
        args.port,
        workers=args.workers,
        log_level="warning",
        also_ports=(args.grpc_port,) if args.grpc_port else (),
    )


if __name__ == "__main__":
    main()
