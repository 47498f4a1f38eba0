"""Benchmark: the stream classifier end to end against the endpoint's own throughput.

One run, one machine, one model (an untrained LeNet-5 registered as `digits` v1.0.0 in
a scratch Postgres database, served by the real `modelfleet serve`):

(1) the endpoint's single-image throughput: `:classify` uploads of one PNG at 32
    connections, measured with wrk;
(2) the stream classifier: the real `modelfleet ingest` process watches landing; N PNG
    files land there (the `.part` -> rename convention: written as `.part` first, then
    renamed one after the other), and the clock runs from the first rename to the last
    `stored` row committed.

    .venv/bin/python bench/ingest.py [--files 2000] [--duration 10] [--workers 2]
                                     [--ingest-only]   (2) alone, where wrk is missing

The target: (2) reaches at least 70% of (1).
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from wrk_runner import multipart_body, run_wrk, running_server

from modelfleet.host.ports import free_port
from models import export_bench_model

BIN = Path(sys.executable).parent
WORKFLOW = "digits"


def register_untrained(url: str) -> None:
    """digits v1.0.0 with the records a release would have, and in production."""
    from sqlalchemy.orm import Session

    from modelfleet.registry import db
    from modelfleet.registry.entities import NewDatasetVersion, NewTrainingRun, NewVersion, RunRef
    from modelfleet.registry.store import runs, versions

    run = RunRef(dag_id="bench", run_id="bench", code_sha="bench")
    with Session(db.engine(url)) as session, session.begin():
        dataset = runs.add_dataset_version(session, NewDatasetVersion(
            workflow=WORKFLOW, month="2026-01", run=run,
            train_manifest_sha256="0" * 64, holdout_manifest_sha256="0" * 64,
            test_manifest_sha256="0" * 64, train_dvc_md5=None,
            n_train=0, n_holdout=0, n_test=0, months=["2026-01"],
        ))  # fmt: skip
        training = runs.add_training_run(session, NewTrainingRun(
            workflow=WORKFLOW, dataset_version_id=dataset, architecture="lenet",
            params={}, artifact_sha256="0" * 64, fit_seconds=0.0, run=run,
        ))  # fmt: skip
        versions.add_version(session, NewVersion(
            workflow=WORKFLOW, version="v1.0.0", version_int=1_000_000,
            tag=f"{WORKFLOW}@v1.0.0", training_run_id=training, artifact_sha256="0" * 64,
            repo_commit="0" * 40, run=run,
        ))  # fmt: skip
        versions.move_alias(
            session, workflow=WORKFLOW, version="v1.0.0", actor="bench", reason="benchmark"
        )


def camera_images(n: int) -> list[bytes]:
    """Distinct 28x28 grayscale PNGs (distinct bytes: no duplicates)."""
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(buffer, format="PNG")
        out.append(buffer.getvalue())
    return out


def profile_scan(settings, url: str, landing: Path, images: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    import cProfile
    import pstats

    from modelfleet.config import load_fleet
    from modelfleet.ingest.watcher import Ingestor

    settled = time.time() - 5
    for i, data in enumerate(images):
        path = landing / f"cam_{i:06d}.png"
        path.write_bytes(data)
        os.utime(path, (settled, settled))
    ingestor = Ingestor(settings, load_fleet(), url)
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.runcall(ingestor.scan_once)
    print(f"[bench] in-process scan: {len(images) / (time.perf_counter() - began):.0f} images/s")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def endpoint_throughput(args, settings, home: Path, port: int, image: bytes) -> float:  # type: ignore[no-untyped-def]
    """(1): `:classify` uploads of one PNG under wrk; images/s."""
    from modelfleet.registry.api_keys import ADMIN_APP, api_key

    body, ctype = multipart_body("file", "cam.png", image)
    body_path = home / "classify.body"
    body_path.write_bytes(body)
    print(f"[bench] (1) endpoint :classify, {args.connections} connections", flush=True)
    single = run_wrk(
        f"http://127.0.0.1:{port}/v1/models/{WORKFLOW}:classify",
        body_path, ctype, args.connections, args.duration,
        auth=f"Bearer {api_key(settings, ADMIN_APP)}",
    )  # fmt: skip
    print(
        f"[bench]     {single['ok_requests_per_s']:.0f} images/s, "
        f"p50 {single['latency_p50_ms']:.1f} ms, errors {single['errors']}",
        flush=True,
    )
    return single["ok_requests_per_s"]


def stored_count(url: str) -> int:
    from modelfleet.registry import db

    with db.engine(url).connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM ingest_file WHERE state = 'stored'")
        ).scalar_one()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk load")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="`modelfleet ingest --workers`")
    parser.add_argument(
        "--profile", action="store_true", help="run one in-process scan under cProfile instead"
    )
    parser.add_argument(
        "--ingest-only", action="store_true", help="skip (1), the endpoint's wrk run"
    )
    parser.add_argument(
        "--server", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()

    from modelfleet.config import load_fleet
    from modelfleet.registry import db
    from modelfleet.registry.api_keys import ensure_platform_apps
    from modelfleet.settings import get_settings

    name = f"mf_bench_ingest_{secrets.token_hex(3)}"
    url = db.with_database(args.server, name)
    db.ensure_database(url)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        port = free_port()
        env = {
            **os.environ,
            "MODELFLEET_HOME": str(home),
            "MODELFLEET_DATABASE_URL": url,
            "MODELFLEET_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "MODELFLEET_GRPC_PORT": "0",  # HTTP only: 8500 may be a running platform's
        }
        os.environ.update(env)
        try:
            print(f"[bench] database {name}, home {home}", flush=True)
            db.migrate(url)
            register_untrained(url)
            export_bench_model("lenet", home, name=WORKFLOW)
            settings = get_settings()
            ensure_platform_apps(settings, load_fleet(), url)
            results = {}
            with running_server(
                [str(BIN / "modelfleet"), "serve", "--port", str(port)], port,
                log=home / "endpoint.log",
            ):  # fmt: skip
                time.sleep(3)  # the registry watcher loads and warms production
                images = camera_images(args.files)
                if not args.ingest_only:
                    results["endpoint"] = endpoint_throughput(args, settings, home, port, images[0])
                landing = settings.landing / WORKFLOW
                landing.mkdir(parents=True, exist_ok=True)
                if args.profile:
                    profile_scan(settings, url, landing, images)
                    return
                log = (home / "ingest.log").open("w")
                watcher = subprocess.Popen(
                    [str(BIN / "modelfleet"), "ingest", "--workers", str(args.workers)],
                    env=env,
                    stdout=log,
                    stderr=log,
                )
                try:
                    time.sleep(6)  # imports, first scan
                    print(
                        f"[bench] (2) landing {args.files} files for `modelfleet ingest`",
                        flush=True,
                    )
                    # The cameras' writing is theirs: each file is written as `.part` (which
                    # the watcher ignores) before the clock starts, and lands, complete, at
                    # its rename. Backdated, so that the settle time is not measured.
                    settled = time.time() - 5
                    parts = []
                    for i, data in enumerate(images):
                        part = landing / f"cam_{i:06d}.png.part"
                        part.write_bytes(data)
                        os.utime(part, (settled, settled))
                        parts.append(part)
                    began = time.perf_counter()
                    for part in parts:
                        part.rename(part.with_suffix(""))
                    landed = time.perf_counter() - began
                    while (done := stored_count(url)) < args.files:
                        if watcher.poll() is not None:
                            raise RuntimeError(
                                f"ingest exited: {(home / 'ingest.log').read_text()[-2000:]}"
                            )
                        time.sleep(0.05)
                    elapsed = time.perf_counter() - began
                finally:
                    watcher.terminate()
                    watcher.wait(30)
                results["ingest"] = done / elapsed
                print(
                    f"[bench]     {done} stored in {elapsed:.1f} s (landing took {landed:.1f} s): "
                    f"{results['ingest']:.0f} images/s",
                    flush=True,
                )
            if "endpoint" not in results:
                return
            ratio = results["ingest"] / results["endpoint"]
            print(
                f"\n| path | images/s |\n|---|---|\n"
                f"| (1) endpoint `:classify`, one image per request, {args.connections} connections | {results['endpoint']:.0f} |\n"
                f"| (2) `modelfleet ingest`, landed -> row committed | {results['ingest']:.0f} |\n\n"
                f"ingest / endpoint = {ratio:.0%} (target >= 70%: {'met' if ratio >= 0.7 else 'NOT met'})"
            )
        finally:
            db.engine(url).dispose()
            admin = sa.create_engine(args.server, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
