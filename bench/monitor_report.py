"""Benchmark: `modelfleet monitor WF --window 24h --json` over 1,000,000 logged
predictions (issue 22 target: under 2 s).

Creates a fresh database on the given server (`mf_bench_monitor_<random>`), migrates it,
registers one version of `digits` with its reference statistics, COPYs `--rows`
prediction_log rows spread over the last 23 hours (8-float embeddings, 28x28x1 inputs;
the first `--labelled` with an image sha256 and a label) and runs VACUUM ANALYZE.

It then times, `--repeat` times each:
0. the command's start-up alone (an unknown workflow: exit 2 before any query);
1. the command itself, as a user runs it: `.venv/bin/modelfleet monitor digits --window
   24h --json` in a fresh process (Python start-up and imports included), against this
   database (MODELFLEET_DATABASE_URL in its environment);
2. the report in this process (the queries, the subsample, the statistics), both as the
   command computes it (`monitoring.compute.compute_report` over a bare psycopg2
   connection, registry.reader) and as `monitor__<wf>` does (`monitoring.run.compute`
   in a SQLAlchemy Session).

Wall and CPU time (user + sys) of the fresh processes, and the load average before and
after: on a shared machine the CPU time says what the command costs, the wall time also
what the neighbours took.

Drops the database at the end unless --keep.

    .venv/bin/python bench/monitor_report.py [--rows 1000000] [--repeat 5] [--keep]
        [--url postgresql+psycopg2://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.settings import CHECKOUT

sys.path.insert(0, str(CHECKOUT))  # tests.helpers: the same rows the integration test logs

from modelfleet.config import load_fleet
from modelfleet.monitoring.compute import compute_report
from modelfleet.monitoring.run import compute
from modelfleet.registry.db import migrate, with_database
from modelfleet.registry.monitoring_tables import ImageLabelRow
from modelfleet.registry.reader import direct_query
from modelfleet.registry.store.workflows import ensure_workflow
from tests.helpers.monitoring import (
    add_reference,
    add_version,
    log_predictions,
    reference,
)

DEFAULT_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
WORKFLOW = "digits"
CLASSES = [str(d) for d in range(10)]
SHARES = [0.1] * 10
CHUNK = 100_000


def load(engine: sa.Engine, rows: int, labelled: int) -> None:
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        workflow_id = ensure_workflow(session, WORKFLOW)
        version_id = add_version(session, WORKFLOW, "v1.0.0")
        add_reference(session, version_id, reference(CLASSES, SHARES))
    start = time.perf_counter()
    span = timedelta(hours=23) / rows
    for first in range(0, rows, CHUNK):
        n = min(CHUNK, rows - first)
        shas = [f"{i:064x}" for i in range(labelled)] if first == 0 else None
        log_predictions(
            engine, workflow_id, version_id, n, classes=CLASSES, shares=SHARES,
            first=now - timedelta(hours=23) + span * first,
            last=now - timedelta(hours=23) + span * (first + n - 1),
            seed=first, shas=shas,
        )  # fmt: skip
    with Session(engine) as session, session.begin():
        session.add_all(
            ImageLabelRow(workflow_id=workflow_id, image_sha256=f"{i:064x}", label="3", actor="b")
            for i in range(labelled)
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE prediction_log"))
        conn.execute(sa.text("VACUUM ANALYZE image_label"))
    print(f"loaded {rows} rows in {time.perf_counter() - start:.1f} s")


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_cli(url: str, repeat: int) -> tuple[list[float], list[float], dict]:
    """Wall times and the process's CPU times (user + sys): on a shared machine the CPU
    time says what the command costs, the wall time also what the neighbours took."""
    env = {**os.environ, "MODELFLEET_DATABASE_URL": url}
    argv = [str(CHECKOUT / ".venv/bin/modelfleet"), "monitor", WORKFLOW, "--window", "24h"]
    times, cpu, report = [], [], {}
    for _ in range(repeat):
        start, cpu_start = time.perf_counter(), _child_cpu()
        out = subprocess.run([*argv, "--json"], env=env, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - start)
        cpu.append(_child_cpu() - cpu_start)
        report = json.loads(out.stdout)
    return times, cpu, report


def time_startup(url: str, repeat: int) -> tuple[list[float], list[float]]:
    """The same process up to its first use of the database: Python, Click, the fleet."""
    env = {**os.environ, "MODELFLEET_DATABASE_URL": url}
    argv = [str(CHECKOUT / ".venv/bin/modelfleet"), "monitor", "nosuchworkflow"]
    times, cpu = [], []
    for _ in range(repeat):
        start, cpu_start = time.perf_counter(), _child_cpu()
        subprocess.run(argv, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        cpu.append(_child_cpu() - cpu_start)
    return times, cpu


def time_direct(url: str, repeat: int) -> list[float]:
    """The report as the command computes it: one psycopg2 connection, no SQLAlchemy."""
    os.environ["MODELFLEET_DATABASE_URL"] = url  # registry.reader reads it via settings
    declared = load_fleet().get(WORKFLOW)
    times = []
    for _ in range(repeat):
        end = datetime.now(UTC)
        start = time.perf_counter()
        with direct_query() as query:
            compute_report(query, declared, end - timedelta(hours=24), end)
        times.append(time.perf_counter() - start)
    return times


def time_compute(url: str, repeat: int) -> list[float]:
    engine = sa.create_engine(url)
    declared = load_fleet().get(WORKFLOW)
    times = []
    for _ in range(repeat):
        end = datetime.now(UTC)
        start = time.perf_counter()
        with Session(engine) as session:
            compute(session, declared, end - timedelta(hours=24), end)
        times.append(time.perf_counter() - start)
    engine.dispose()
    return times


def _summary(name: str, times: list[float]) -> None:
    print(
        f"{name}: median {statistics.median(times):.3f} s, "
        f"min {min(times):.3f} s, max {max(times):.3f} s ({len(times)} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--labelled", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--url", default=DEFAULT_URL, help="server (any database on it)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    name = f"mf_bench_monitor_{secrets.token_hex(4)}"
    admin = sa.create_engine(with_database(args.url, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        server = conn.execute(sa.text("SHOW server_version")).scalar()
    print(f"database {name} (PostgreSQL {server}), {os.cpu_count()} cores")
    url = with_database(args.url, name)
    migrate(url)
    engine = sa.create_engine(url)
    try:
        load(engine, args.rows, args.labelled)
        print(
            f"load average before timing: {os.getloadavg()[0]:.1f}; PYTHONDONTWRITEBYTECODE "
            f"{'set' if os.environ.get('PYTHONDONTWRITEBYTECODE') else 'unset'}"
        )
        startup, startup_cpu = time_startup(url, args.repeat)
        _summary("start-up only: modelfleet monitor <unknown workflow> (exit 2)", startup)
        _summary("  its CPU time (user + sys)", startup_cpu)
        cli, cli_cpu, report = time_cli(url, args.repeat)
        _summary("modelfleet monitor --window 24h --json (fresh process)", cli)
        _summary("  its CPU time (user + sys)", cli_cpu)
        _summary("compute_report() over psycopg2, in process", time_direct(url, args.repeat))
        _summary(
            "monitoring.run.compute() in a Session, in process", time_compute(url, args.repeat)
        )
        print(f"load average after timing: {os.getloadavg()[0]:.1f}")
        print(
            f"report: n_logged {report['n_logged']}, n_used {report['n_used']}, "
            f"labelled {report['labelled']}, live_accuracy {report['live_accuracy']}, "
            f"alerts {[a['kind'] for a in report['alerts']]}"
        )
    finally:
        engine.dispose()
        if args.keep:
            print(f"kept database {name}")
        else:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            print(f"dropped database {name}")
        admin.dispose()


if __name__ == "__main__":
    main()
