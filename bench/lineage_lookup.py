"""Benchmark: lineage lookup by image sha256 with 1,000,000 prediction rows (issue 9).

Creates a fresh database on the given server (`mf_bench_lineage_<random>`), migrates
it with the real Alembic migrations, creates a few workflows × versions (dataset
version, validation, training run with its parent, evaluation, gate decision, model
version) through the store API, then bulk-loads `--rows` predictions with COPY (random
sha256s, spread over the versions in release order) and runs VACUUM ANALYZE.

It then measures `prediction_lineage()` (registry/store/lineage.py):

1. server side: the SQL statements the lookup issues are captured with SQLAlchemy's
   `before_cursor_execute` event; for each of `--samples` random shas that nothing has
   read yet, the prediction query is run under `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`
   first (so its index and heap pages are not already hot from this lookup), then the
   lookup is called once to capture the parameters of the remaining statements, which
   are EXPLAIN ANALYZEd the same way. A lookup's server time is the sum over its
   statements of "Execution Time" (also reported with "Planning Time" added).
2. client side: wall time of `prediction_lineage()` in a fresh Session, for another
   `--samples` random shas (includes the round trips, psycopg2 and the ORM).

Prints the index definitions of `prediction` and one plan of the prediction query in
text form. Drops the database at the end unless --keep.

    .venv/bin/python bench/lineage_lookup.py [--rows 1000000] [--samples 200] [--keep]
        [--url postgresql+psycopg2://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import secrets
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.registry.db import migrate, with_database
from modelfleet.registry.entities import (
    GateCheck,
    NewDatasetVersion,
    NewEvaluation,
    NewGateDecision,
    NewTrainingRun,
    NewValidation,
    NewVersion,
    RunRef,
)
from modelfleet.registry.store import lineage, runs, versions

DEFAULT_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
COPY_COLUMNS = (
    "model_version_id, image_sha256, label, score, scores, source, stored_path, created_at"
)
CHUNK = 100_000
RUN = RunRef(dag_id="retrain__bench", run_id="manual__bench", code_sha="0" * 40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--workflows", type=int, default=4)
    parser.add_argument("--versions", type=int, default=5, help="versions per workflow")
    parser.add_argument("--url", default=DEFAULT_URL, help="server (any database on it)")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()
    if args.rows < 2 * args.samples + 2:
        parser.error("--rows must be at least 2 * --samples + 2")

    name = f"mf_bench_lineage_{secrets.token_hex(4)}"
    admin = sa.create_engine(with_database(args.url, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        server = conn.execute(sa.text("SHOW server_version")).scalar()
        shared_buffers = conn.execute(sa.text("SHOW shared_buffers")).scalar()
    print(f"database {name} (PostgreSQL {server}, shared_buffers {shared_buffers})")
    url = with_database(args.url, name)
    engine = sa.create_engine(url)
    try:
        run_benchmark(engine, url, args)
    finally:
        engine.dispose()
        if args.keep:
            print(f"kept database {name}")
        else:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            print(f"dropped database {name}")
        admin.dispose()


def run_benchmark(engine: sa.Engine, url: str, args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    migrate(url)
    with Session(engine) as session:
        model_versions = create_versions(session, args.workflows, args.versions)
        session.commit()
    print(
        f"migrated and created {args.workflows} workflows × {args.versions} versions "
        f"in {time.perf_counter() - t0:.1f} s"
    )

    picked = rng.sample(range(args.rows), 2 * args.samples + 2)
    shas = load_predictions(engine, args.rows, model_versions, rng, set(picked))
    sample = [shas[i] for i in picked]
    warm_sha, text_sha = sample[0], sample[1]
    server_shas, client_shas = sample[2 : 2 + args.samples], sample[2 + args.samples :]

    t0 = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM (ANALYZE) prediction"))
    print(f"VACUUM (ANALYZE) prediction: {time.perf_counter() - t0:.1f} s")
    print_sizes_and_indexes(engine)

    # The statements of one lookup (also warms the small lineage tables and the pool).
    capture = Capture(engine)
    template = capture.statements(lambda: lookup(engine, warm_sha))
    for _ in range(4):
        lookup(engine, warm_sha)
    print(f"\nprediction_lineage() issued {len(template)} statements for {warm_sha}:")
    for i, (statement, _) in enumerate(template, 1):
        print(f"  {i}. {describe(statement)}")
    print("  (the last one, the parent version, only when the training run has a parent)")
    first_sql, first_params = template[0]
    sha_keys = [k for k, v in first_params.items() if v == warm_sha]
    assert "prediction" in first_sql and len(sha_keys) == 1, first_sql

    load_before = os.getloadavg()
    raw = engine.raw_connection()
    raw.autocommit = True
    exec_ms: list[float] = []
    total_ms: list[float] = []
    n_statements: list[int] = []
    per_statement: dict[str, list[float]] = {}
    first_reads = 0
    try:
        with raw.cursor() as cur:
            for sha in server_shas:
                # the prediction query first, on pages nothing has read for this sha
                first = explain_json(cur, first_sql, {**first_params, sha_keys[0]: sha})
                statements = capture.statements(lambda sha=sha: lookup(engine, sha))
                assert statements[0][0] == first_sql
                plans = [first] + [explain_json(cur, s, p) for s, p in statements[1:]]
                first_reads += plans[0]["Plan"].get("Shared Read Blocks", 0) > 0
                for (statement, _), plan in zip(statements, plans, strict=True):
                    times = per_statement.setdefault(describe(statement), [])
                    times.append(plan["Execution Time"])
                n_statements.append(len(plans))
                exec_ms.append(sum(p["Execution Time"] for p in plans))
                total_ms.append(sum(p["Execution Time"] + p["Planning Time"] for p in plans))
            cur.execute(
                "EXPLAIN (ANALYZE, BUFFERS) " + first_sql,
                {**first_params, sha_keys[0]: text_sha},
            )
            text_plan = "\n".join(row[0] for row in cur.fetchall())
    finally:
        raw.close()

    client_ms: list[float] = []
    for sha in client_shas:
        with Session(engine) as session:
            start = time.perf_counter()
            found = lineage.prediction_lineage(session, sha)
            client_ms.append((time.perf_counter() - start) * 1000)
        assert found["prediction"]["image_sha256"] == sha
    load_after = os.getloadavg()

    n = len(server_shas)
    print(
        f"\nload average (1, 5, 15 min): before {fmt_load(load_before)}, "
        f"after {fmt_load(load_after)} ({os.cpu_count()} cores)"
    )
    print(f"\nLookup of {n} random image sha256s in {args.rows:,} predictions (ms):\n")
    print("| measure | p50 | p95 | max |")
    print("|---|---|---|---|")
    counts = f"{min(n_statements)}–{max(n_statements)}"
    print(row(f"server: Execution Time, sum of the {counts} statements", exec_ms))
    print(row("server: Planning + Execution Time, summed", total_ms))
    print(row("client: `prediction_lineage()` wall time", client_ms))
    print("\nper statement, server Execution Time (ms):\n")
    print("| # | statement | lookups | p50 | p95 | max |")
    print("|---|---|---|---|---|---|")
    for i, (statement, times) in enumerate(per_statement.items(), 1):
        print(f"| {i} | `{statement}` | {len(times)} " + row("", times)[3:])
    print(
        f"\nprediction query: {first_reads}/{n} lookups read at least one page from "
        "outside shared_buffers (OS page cache or disk)"
    )
    p50 = statistics.median(exec_ms)
    verdict = "PASS" if p50 < 10 else "FAIL"
    print(f"\n{verdict}: server-side p50 {p50:.3f} ms (target < 10 ms)")
    print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the prediction query, image_sha256 = '{text_sha}':\n")
    print(first_sql)
    print()
    print(text_plan)


def create_versions(session: Session, n_workflows: int, n_versions: int) -> dict[int, str]:
    """Model version id -> workflow name, in release order within each workflow."""
    created: dict[int, str] = {}
    for w in range(n_workflows):
        workflow = f"bench_wf{w}"
        parent: int | None = None
        for v in range(n_versions):
            month = f"2026-{v + 1:02d}"
            dataset = runs.add_dataset_version(
                session,
                NewDatasetVersion(
                    workflow=workflow,
                    month=month,
                    run=RUN,
                    train_manifest_sha256=secrets.token_hex(32),
                    holdout_manifest_sha256=secrets.token_hex(32),
                    test_manifest_sha256=secrets.token_hex(32),
                    train_dvc_md5=f"{secrets.token_hex(16)}.dir",
                    n_train=6000,
                    n_holdout=1000,
                    n_test=1000,
                    months=[month],
                ),
            )
            runs.add_validation(
                session,
                NewValidation(
                    dataset_version_id=dataset,
                    success=True,
                    gx_run_id=f"gx-{workflow}-{month}",
                    statistics={"evaluated_expectations": 12, "successful_expectations": 12},
                    results=[],
                    data_docs=None,
                    run=RUN,
                ),
            )
            training = runs.add_training_run(
                session,
                NewTrainingRun(
                    workflow=workflow,
                    dataset_version_id=dataset,
                    architecture="lenet",
                    params={"params": {"epochs": 4, "batch_size": 64}},
                    artifact_sha256=secrets.token_hex(32),
                    fit_seconds=3.0,
                    run=RUN,
                    parent_version_id=parent,
                ),
            )
            runs.add_evaluation(
                session,
                NewEvaluation(
                    training_run_id=training,
                    role="candidate",
                    split="test",
                    metrics={"accuracy": 0.9, "macro_f1": 0.89, "n": 1000},
                    model_version_id=None,
                    run=RUN,
                ),
            )
            runs.add_gate_decision(
                session,
                NewGateDecision(
                    training_run_id=training,
                    passed=True,
                    checks=[GateCheck("min_accuracy", 0.9, 0.8, True, "ok")],
                    run=RUN,
                ),
            )
            version = f"v1.{v}.0"
            parent = versions.add_version(
                session,
                NewVersion(
                    workflow=workflow,
                    version=version,
                    version_int=1_000_000 + v * 1000,
                    tag=f"{workflow}@{version}",
                    training_run_id=training,
                    artifact_sha256=secrets.token_hex(32),
                    repo_commit=secrets.token_hex(20),
                    run=RUN,
                ),
            ).id
            created[parent] = workflow
    return created


def load_predictions(
    engine: sa.Engine,
    rows: int,
    model_versions: dict[int, str],
    rng: random.Random,
    keep: set[int],
) -> dict[int, str]:
    """COPY `rows` predictions; return the sha256s of the row numbers in `keep`.

    Each row goes to a random workflow, and within it to the version that was in
    production at the row's time (versions follow each other over the month)."""
    by_workflow: dict[str, list[int]] = {}
    for version_id, workflow in model_versions.items():
        by_workflow.setdefault(workflow, []).append(version_id)
    workflows = sorted(by_workflow)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    step = timedelta(days=30) / rows
    kept: dict[int, str] = {}
    raw = engine.raw_connection()
    t0 = time.perf_counter()
    try:
        with raw.cursor() as cur:
            for first in range(0, rows, CHUNK):
                buf = io.StringIO()
                for i in range(first, min(first + CHUNK, rows)):
                    workflow = workflows[rng.randrange(len(workflows))]
                    ids = by_workflow[workflow]
                    version_id = ids[i * len(ids) // rows]
                    sha = rng.randbytes(32).hex()
                    if i in keep:
                        kept[i] = sha
                    label = rng.randrange(10)
                    score = 0.5 + rng.random() / 2
                    scores = json.dumps({str(label): round(score, 4), "other": round(1 - score, 4)})
                    at = (start + i * step).isoformat()
                    buf.write(
                        f"{version_id}\t{sha}\t{label}\t{score:.6f}\t{scores}\t"
                        f"cam{i % 8}/img_{i:08d}.png\t/lake/{workflow}/{at[:10]}/{sha}.png\t{at}\n"
                    )
                buf.seek(0)
                cur.copy_expert(f"COPY prediction ({COPY_COLUMNS}) FROM STDIN", buf)
                raw.commit()
                done = min(first + CHUNK, rows)
                elapsed = time.perf_counter() - t0
                print(
                    f"  inserted {done:>9,} / {rows:,} rows  {elapsed:6.1f} s  "
                    f"({done / elapsed:,.0f} rows/s)",
                    flush=True,
                )
    finally:
        raw.close()
    return kept


def lookup(engine: sa.Engine, sha: str) -> dict[str, Any]:
    with Session(engine) as session:
        return lineage.prediction_lineage(session, sha)


class Capture:
    """The (statement, parameters) pairs the engine sends while a function runs."""

    def __init__(self, engine: sa.Engine) -> None:
        self.active: list[tuple[str, dict[str, Any]]] | None = None
        sa.event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if self.active is not None:
            self.active.append((statement, dict(parameters or {})))

    def statements(self, fn: Callable[[], object]) -> list[tuple[str, dict[str, Any]]]:
        self.active = []
        try:
            fn()
            return self.active
        finally:
            self.active = None


def explain_json(cur: Any, statement: str, params: dict[str, Any]) -> dict[str, Any]:
    cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, params)
    result = cur.fetchone()[0]
    if isinstance(result, str):
        result = json.loads(result)
    return result[0]


def print_sizes_and_indexes(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM prediction")).scalar()
        sizes = conn.execute(
            sa.text(
                "SELECT pg_size_pretty(pg_table_size('prediction')),"
                " pg_size_pretty(pg_indexes_size('prediction'))"
            )
        ).one()
        indexes = conn.execute(
            sa.text(
                "SELECT indexname, indexdef, pg_size_pretty(pg_relation_size(indexname::regclass))"
                " FROM pg_indexes WHERE tablename = 'prediction' ORDER BY indexname"
            )
        ).all()
    print(f"prediction: {count:,} rows, table {sizes[0]}, indexes {sizes[1]}")
    print("\nindexes on prediction (pg_indexes):")
    for name, definition, size in indexes:
        print(f"  {definition};  -- {name}: {size}")


def describe(statement: str) -> str:
    """A short name for a SELECT: its FROM clause and WHERE columns."""
    flat = " ".join(statement.split())
    upper = flat.upper()
    start = upper.find(" FROM ")
    end = min((i for i in (upper.find(" WHERE "), len(flat)) if i >= 0), default=len(flat))
    tables = re.sub(r" ON .*?(?= JOIN |$)", "", flat[start + 6 : end])
    where = re.sub(r"%\(\w+\)s", "?", flat[end:].split(" ORDER BY ")[0].split(" LIMIT ")[0])
    return f"FROM {tables}{where}"


def row(label: str, values: list[float]) -> str:
    p50 = statistics.median(values)
    p95 = statistics.quantiles(values, n=100, method="inclusive")[94]
    return f"| {label} | {p50:.3f} | {p95:.3f} | {max(values):.3f} |"


def fmt_load(load: tuple[float, float, float]) -> str:
    return ", ".join(f"{x:.2f}" for x in load)


if __name__ == "__main__":
    main()
