"""Benchmark: what the prediction log costs the endpoint, logging off vs on, same run.

An untrained LeNet-5 (weights don't matter for speed) is exported in TF Serving layout
and served through the real FastAPI app in-process (ASGI, as bench/serving_batching.py
does), with 32 concurrent clients of one image each. Three set-ups take turns, round
after round (each round starting with another), so that machine noise hits them alike:

    serve only      the SavedModel's `serve` function, no prediction log (as before it)
    log off         the monitored batch function, `monitor.sample_rate` 0
    log on          the monitored batch function, `sample_rate` 1.0, COPY to Postgres,
                    and the request counts of the error-rate monitor (serving.request_tally)

The log writes to a fresh, migrated database on the local Postgres (dropped at the end);
its writer thread runs throughout, and the rows it wrote are counted at the end. Besides
throughput, the process CPU time per request (all threads) is reported: on a shared
machine it varies less than wall-clock throughput.

    .venv/bin/python bench/prediction_log.py [--requests 2000] [--rounds 5] \
        [--concurrency 32] [--database-server postgresql+psycopg2://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))

from serving_batching import KEY, export_untrained, fire

SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


def fresh_database(server: str) -> str:
    import sqlalchemy as sa

    from modelfleet.registry.db import migrate, with_database

    name = f"mf_bench_log_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(with_database(server, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = with_database(server, name)
    migrate(url)
    return url


def drop(url: str) -> None:
    import sqlalchemy as sa

    from modelfleet.registry.db import with_database

    name = sa.engine.make_url(url).database
    admin = sa.create_engine(with_database(url, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--database-server", default=SERVER)
    args = parser.parse_args()

    import sqlalchemy as sa
    import tensorflow as tf
    from sqlalchemy.orm import Session

    from modelfleet.config import ServingPolicy
    from modelfleet.naming import Version
    from modelfleet.registry.store.monitoring import PredictionLogWriter
    from modelfleet.registry.store.request_counts import RequestCountWriter
    from modelfleet.registry.store.workflows import ensure_workflow
    from modelfleet.serving.app import create_app
    from modelfleet.serving.auth import Authenticator, Principal
    from modelfleet.serving.batching import Batcher
    from modelfleet.serving.pool import LoadedModel, ModelPool, load_version
    from modelfleet.serving.prediction_log import PredictionLog
    from modelfleet.serving.request_tally import RequestTally
    from modelfleet.settings import get_settings

    url = fresh_database(args.database_server)
    engine = sa.create_engine(url)
    with Session(engine) as session:
        ensure_workflow(session, "bench")
        session.commit()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            export_untrained(root)
            policy = ServingPolicy()
            version = Version.parse("v1.0.0")

            def app_for(  # type: ignore[no-untyped-def]
                model: LoadedModel, log: PredictionLog | None, tally: RequestTally | None = None
            ):
                pool = ModelPool(root / "serving", {"bench": policy})
                pool.add(model, "production")
                auth = Authenticator(None)
                auth.add_static(KEY, Principal("bench", grants={"bench": "production"}))
                return create_app(
                    pool,
                    get_settings(),
                    database_url=None,
                    auth=auth,
                    prediction_log=log,
                    request_tally=tally,
                )

            monitored = load_version(root / "serving", "bench", version, policy)
            plain_loaded = tf.saved_model.load(str(root / "serving/bench/1000000"))
            plain = LoadedModel(
                **{
                    **monitored.__dict__,
                    "batcher": Batcher(
                        lambda x: plain_loaded.serve(tf.constant(x)).numpy(),
                        max_batch=policy.max_batch_size,
                        max_wait_s=policy.batch_timeout_ms / 1000,
                    ),
                    "extra_columns": 0,
                }
            )
            log_on = PredictionLog(PredictionLogWriter(engine), lambda: {"bench": 1.0})
            tally = RequestTally(RequestCountWriter(engine), {"bench"}.__contains__)
            setups = {
                "serve only": app_for(plain, None),
                "log off (rate 0)": app_for(
                    monitored, PredictionLog(PredictionLogWriter(engine), lambda: {"bench": 0.0})
                ),
                "log on (rate 1.0)": app_for(monitored, log_on, tally),
            }
            log_on.start()  # the ASGI transport runs no lifespan: start the writers here
            tally.start()
            for app in setups.values():
                asyncio.run(fire(app, 300, args.concurrency))  # warm up
            rates: dict[str, list[float]] = {name: [] for name in setups}
            p99: dict[str, list[float]] = {name: [] for name in setups}
            cpu: dict[str, list[float]] = {name: [] for name in setups}
            names = list(setups)
            for round_ in range(args.rounds):
                # each round starts with another set-up: none is always first or last
                for name in names[round_ % 3 :] + names[: round_ % 3]:
                    cpu_before = time.process_time()  # all threads: TF's, the writer's
                    elapsed, latencies = asyncio.run(
                        fire(setups[name], args.requests, args.concurrency)
                    )
                    cpu[name].append((time.process_time() - cpu_before) / args.requests * 1e6)
                    latencies.sort()
                    rates[name].append(args.requests / elapsed)
                    p99[name].append(latencies[int(0.99 * len(latencies))] * 1000)
            log_on.stop(timeout_s=60)
            tally.stop()
            with engine.connect() as conn:
                logged = conn.execute(sa.text("SELECT count(*) FROM prediction_log")).scalar_one()
                counted = conn.execute(
                    sa.text("SELECT coalesce(sum(answered), 0) FROM request_count")
                ).scalar_one()
            print(
                f"LeNet, {args.concurrency} clients, {args.rounds} interleaved rounds of "
                f"{args.requests} requests (median of rounds):"
            )
            for name in setups:
                print(
                    f"  {name:18} {statistics.median(rates[name]):7.0f} req/s   "
                    f"p99 {statistics.median(p99[name]):6.1f} ms   "
                    f"CPU {statistics.median(cpu[name]):6.0f} us/request   "
                    f"rounds {', '.join(f'{r:.0f}' for r in rates[name])}"
                )
            on = statistics.median(rates["log on (rate 1.0)"])
            for base in ("log off (rate 0)", "serve only"):
                change = on / statistics.median(rates[base]) - 1  # negative: log on is slower
                extra = statistics.median(cpu["log on (rate 1.0)"]) / statistics.median(cpu[base])
                print(
                    f"  log on vs {base}: {change * 100:+.1f}% throughput, "
                    f"{(extra - 1) * 100:+.1f}% CPU per request"
                )
            print(
                f"  rows logged: {logged} (of {args.requests * args.rounds + 300} requests "
                f"at rate 1.0; dropped {log_on.dropped}); requests counted: {counted}"
            )
    finally:
        engine.dispose()
        drop(url)


if __name__ == "__main__":
    main()
