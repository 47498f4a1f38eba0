"""Benchmark: what shadowing costs the client, release.shadow_fraction 0 vs 1.0, same run.

Two untrained LeNet-5 versions (weights don't matter for speed; the candidate has other
initial weights, so some answers differ) are exported by the platform's own exporter:
v1.0.0 is `production`, v1.1.0 `candidate`. Two endpoints are started as separate
processes, identical except for the shadow fraction: each is the real `create_app`
under uvicorn (threads tuned as `modelfleet serve` tunes them) with both versions loaded,
the prediction log on at `monitor.sample_rate` 1.0 (COPY to Postgres) and a ShadowMirror
writing to Postgres, so production's answers are mirrored to the candidate in the
background in one and never in the other. Both write to one fresh, migrated database on
the local Postgres, where both versions are registered (dropped at the end).

One load generator (bench/protocols.py's: `--clients` coroutines, each with its own
keep-alive connection, sending one-image TF Serving `:predict` requests back to back for
`--duration` seconds; with `--rate R`, paced to R req/s in all instead, to see the cost
below saturation) drives the two endpoints in interleaved rounds (0, 1.0, 1.0, 0, ...),
so machine noise hits both alike. Reported per set-up: client p50/p99 over all
rounds and the median of the rounds' p99, req/s, and the endpoint's CPU time per request
(all its threads, from /proc: steadier than wall clock on a shared machine); then the
p99 ratio (target: shadowing at 100% adds at most 10% to client p99, issue 22) and how
many shadow answers were written, against the requests the shadowing endpoint answered.
With `--unwritten`, a third endpoint at fraction 1.0 has its candidate answer but writes
nothing (a writer that drops the rows): the cost of the candidate's inference alone.

    .venv/bin/python bench/shadow.py [--clients 32] [--duration 6] [--rounds 8] \
        [--warmup 3] [--rate 0] [--unwritten] [--sample-rate 1.0] [--server-log /tmp/shadow-endpoint.log] \
        [--database-server postgresql+psycopg2://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

# Run as a script, this file's folder (bench/) is first on sys.path.
from prediction_log import SERVER, drop, fresh_database
from protocols import KEY_ENV, HttpConnection, Run, Send, cpu_seconds, http_request, run_load
from wrk_runner import running_server

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BENCH = Path(__file__).resolve().parent
NAME = "lenet"
PRODUCTION_VERSION, CANDIDATE_VERSION = "v1.0.0", "v1.1.0"
TARGET = 1.10  # p99 at fraction 1.0 / p99 at fraction 0
OFF, ON, UNWRITTEN = "shadow 0", "shadow 1.0", "shadow 1.0, unwritten"
# set-up -> (release.shadow_fraction, shadow answers written to Postgres)
SETUPS = {OFF: (0.0, True), ON: (1.0, True), UNWRITTEN: (1.0, False)}


# -- the endpoint (a subprocess: `bench/shadow.py --serve ...`) --


def export_versions(root: Path) -> Path:
    """Export production and candidate (other initial weights); returns the serving root."""
    import keras

    from modelfleet import zoo
    from modelfleet.config import TrainParams, TrainSpec
    from modelfleet.naming import model_file
    from modelfleet.training.export import export

    spec = TrainSpec(
        name=NAME,
        architecture="lenet",
        classes=tuple(str(i) for i in range(10)),
        input_shape=(28, 28, 1),
        params=TrainParams(),
    )
    repo = root / "repo"
    weights = repo / model_file(NAME)
    weights.parent.mkdir(parents=True, exist_ok=True)
    for seed, version in enumerate((PRODUCTION_VERSION, CANDIDATE_VERSION)):
        keras.utils.set_random_seed(seed)
        zoo.build("lenet", spec.input_shape, 10).save_weights(weights)
        export(spec, repo, version, root / "serving")
    return root / "serving"


def serve(args: argparse.Namespace) -> None:
    """Run one endpoint (blocking) until SIGTERM; uvicorn's shutdown runs the app's
    lifespan end, which flushes the prediction log and the shadow answers."""
    from modelfleet.serving.app import prepare_process

    prepare_process()  # thread pools and heap, before TensorFlow runs anything

    import sqlalchemy as sa
    import uvicorn

    from modelfleet.config import ServingPolicy
    from modelfleet.naming import Version
    from modelfleet.registry.store.monitoring import PredictionLogWriter
    from modelfleet.registry.store.shadow import ShadowWriter
    from modelfleet.serving.app import create_app
    from modelfleet.serving.auth import Authenticator, Principal
    from modelfleet.serving.pool import ModelPool, load_version
    from modelfleet.serving.prediction_log import PredictionLog
    from modelfleet.serving.shadow import ShadowMirror
    from modelfleet.settings import get_settings

    engine = sa.create_engine(args.database_url)
    policy = ServingPolicy()
    root = args.serving_root
    pool = ModelPool(root, {NAME: policy})
    pool.add(load_version(root, NAME, Version.parse(PRODUCTION_VERSION), policy), "production")
    pool.add(load_version(root, NAME, Version.parse(CANDIDATE_VERSION), policy), "candidate")
    auth = Authenticator(None)
    auth.add_static(os.environ[KEY_ENV], Principal("bench", grants={NAME: "production"}))
    app = create_app(
        pool,
        get_settings(),
        database_url=None,  # no registry watcher: the aliases stay as given above
        auth=auth,
        prediction_log=PredictionLog(PredictionLogWriter(engine), lambda: {NAME: args.sample_rate}),
        shadow=ShadowMirror(
            pool,
            # --discard-answers: the candidate still answers, nothing is written
            (lambda entries: len(entries)) if args.discard_answers else ShadowWriter(engine),
            lambda: {NAME: args.fraction},
        ),
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


# -- the load generator --


async def drive(
    ports: dict[str, int], pids: dict[str, int], key: str, args: argparse.Namespace
) -> dict[str, Any]:
    """Warm each endpoint up, then run the interleaved rounds; returns each set-up's
    rounds and how many requests each answered in all."""
    import orjson

    pixels = np.random.default_rng(0).random((1, 28, 28, 1), dtype=np.float32)
    body = orjson.dumps({"instances": pixels.tolist()})
    url = f"/v1/models/{NAME}:predict"
    requests = {name: http_request(url, port, key, body, {}) for name, port in ports.items()}
    idle: list[HttpConnection] = []
    served = dict.fromkeys(ports, 0)  # every answered request, warm-up included

    async def measure(setup: str, duration: float) -> Run:
        request = requests[setup]

        async def send() -> None:
            connection = idle.pop()
            try:
                status, answer = await connection.send(request)
            finally:
                idle.append(connection)
            if status != 200:
                raise RuntimeError(f"{setup}: {status} {answer[:300]!r}")

        # fresh connections each round: uvicorn closes one idle for 5 s, as they are
        # while the others have their rounds
        idle[:] = [await HttpConnection.open(ports[setup]) for _ in range(args.clients)]
        cpu = cpu_seconds(pids[setup])
        if args.rate:
            elapsed, latencies = await paced_load(send, args.clients, duration, args.rate)
        else:
            elapsed, latencies = await run_load(send, args.clients, duration)
        cpu = cpu_seconds(pids[setup]) - cpu
        for connection in idle:
            connection.close()
        idle.clear()
        served[setup] += len(latencies)
        return Run(elapsed, latencies, cpu)

    names = list(ports)
    for name in names:  # warm up: graphs traced, batchers and writers busy
        await measure(name, args.warmup)
    runs: dict[str, list[Run]] = {name: [] for name in names}
    for round_ in range(args.rounds):
        # each round starts with another set-up: none is always first or last
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            runs[name].append(await measure(name, args.duration))
        progress(
            f"round {round_ + 1}/{args.rounds}: "
            + "  ".join(
                f"{n}: {runs[n][-1].rate:.0f} req/s p99 {p99(runs[n][-1].latencies):.1f} ms"
                for n in names
            )
        )
    return {"runs": runs, "served": served}


async def paced_load(
    send: Send, clients: int, duration: float, rate: float
) -> tuple[float, list[float]]:
    """`clients` coroutines sending `rate` requests/s in all, each on its own schedule
    (a late one sends at once, never in a burst): the endpoint below saturation."""
    latencies: list[float] = []
    interval = clients / rate
    began = time.perf_counter()
    deadline = began + duration

    async def client(offset: float) -> None:
        due = began + offset
        while due < deadline:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            sent = time.perf_counter()
            await send()
            latencies.append(time.perf_counter() - sent)
            due = max(due + interval, time.perf_counter())

    await asyncio.gather(*(client(i * interval / clients) for i in range(clients)))
    return time.perf_counter() - began, latencies


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000


def register(url: str) -> None:
    """The workflow and both versions, so the endpoints' writers find their ids."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from modelfleet.registry.store.workflows import ensure_workflow
    from modelfleet.settings import CHECKOUT

    sys.path.insert(0, str(CHECKOUT))  # tests.helpers: a version's run chain, no model
    from tests.helpers.monitoring import add_version

    engine = sa.create_engine(url)
    with Session(engine) as session, session.begin():
        ensure_workflow(session, NAME)
        add_version(session, NAME, PRODUCTION_VERSION, month="2026-01")
        add_version(session, NAME, CANDIDATE_VERSION, month="2026-02")
    engine.dispose()


def counts(url: str) -> tuple[int, int, float | None]:
    """Shadow answers, prediction-log rows, and the share of shadow answers agreeing."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        shadowed, agreed = conn.execute(
            sa.text(
                "SELECT count(*), count(*) FILTER "
                "(WHERE production_label = candidate_label) FROM shadow_answer"
            )
        ).one()
        logged = conn.execute(sa.text("SELECT count(*) FROM prediction_log")).scalar_one()
    engine.dispose()
    return shadowed, logged, (agreed / shadowed if shadowed else None)


def report(runs: dict[str, list[Run]], args: argparse.Namespace) -> dict[str, float]:
    print(
        f"LeNet, {args.clients} clients, one image per request, {args.rounds} interleaved "
        f"rounds of {args.duration:g} s per set-up, "
        f"{f'paced at {args.rate:g} req/s' if args.rate else 'back to back'}, "
        f"prediction log at sample_rate "
        f"{args.sample_rate:g} in all; load average {os.getloadavg()[0]:.2f}:"
    )
    pooled: dict[str, float] = {}
    for name, rounds in runs.items():
        latencies = sorted(x for run in rounds for x in run.latencies)
        total_s = sum(run.elapsed for run in rounds)
        cpu_us = 1e6 * sum(run.server_cpu_s for run in rounds) / len(latencies)
        pooled[name] = p99(latencies)
        print(
            f"  {name:21} {len(latencies) / total_s:6.0f} req/s   "
            f"p50 {statistics.median(latencies) * 1000:6.1f} ms   "
            f"p99 {pooled[name]:6.1f} ms (median of rounds "
            f"{statistics.median(p99(run.latencies) for run in rounds):6.1f})   "
            f"endpoint CPU {cpu_us:5.0f} us/request   "
            f"rounds req/s {', '.join(f'{run.rate:.0f}' for run in rounds)}"
        )
    return pooled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds per endpoint")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="paced req/s in all (0: back to back)"
    )
    parser.add_argument("--sample-rate", type=float, default=1.0, help="monitor.sample_rate")
    parser.add_argument(
        "--unwritten",
        action="store_true",
        help="a third endpoint at fraction 1.0 that writes no shadow answers",
    )
    parser.add_argument("--database-server", default=SERVER)
    parser.add_argument("--server-log", type=Path, default=None)
    # the endpoint subprocess's own arguments
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--fraction", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--serving-root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--discard-answers", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return
    if not 0 <= args.sample_rate <= 1:
        parser.error(f"--sample-rate must be within [0, 1], got {args.sample_rate}")

    from modelfleet.host.ports import free_port

    key = secrets.token_urlsafe(16)
    os.environ[KEY_ENV] = key  # the endpoints read it from the environment, not argv
    url = fresh_database(args.database_server)
    try:
        register(url)
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            progress("exporting production and candidate")
            serving_root = export_versions(Path(tmp))
            names = [OFF, ON, UNWRITTEN] if args.unwritten else [OFF, ON]
            ports = {name: free_port() for name in names}
            log = args.server_log or Path(tmp) / "endpoints.log"  # TF's noise stays out
            servers: dict[str, subprocess.Popen[bytes]] = {}
            for name, port in ports.items():
                fraction, written = SETUPS[name]
                command = [sys.executable, str(BENCH / "shadow.py"), "--serve",
                           "--port", str(port), "--fraction", str(fraction),
                           "--serving-root", str(serving_root), "--database-url", url,
                           "--sample-rate", str(args.sample_rate)]  # fmt: skip
                if not written:
                    command.append("--discard-answers")
                servers[name] = stack.enter_context(running_server(command, port, log=log))
            progress(f"endpoints up: {', '.join(f'{n} on {p}' for n, p in ports.items())}")
            pids = {name: server.pid for name, server in servers.items()}
            result = asyncio.run(drive(ports, pids, key, args))
            pooled = report(result["runs"], args)
        # the endpoints have stopped (SIGTERM): their lifespan end flushed both writers
        shadowed, logged, agreement = counts(url)
        for name in names[1:]:
            ratio = pooled[name] / pooled[OFF]
            verdict = "met" if ratio <= TARGET else "MISSED"
            print(
                f"  p99 {name} / {OFF} = {ratio:.3f} ({(ratio - 1) * 100:+.1f}%; target "
                f"<= +{(TARGET - 1) * 100:.0f}%: {verdict})"
            )
        served = result["served"]
        print(
            f"  shadow answers written: {shadowed} of {served[ON]} requests answered by "
            f"'{ON}' (warm-up included; agreement {agreement or 0:.3f}); "
            f"prediction-log rows: {logged} of {sum(served.values())} requests"
        )
    finally:
        drop(url)


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
