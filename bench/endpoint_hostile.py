"""The endpoint under hostile load (issue 19): what the key cache buys, what a burst of
huge uploads leaves in memory, and whether an unknown key id can be told from a wrong
secret by its latency.

    .venv/bin/python bench/endpoint_hostile.py [--part cache,burst,timing] \
        [--model-dir /tmp/bench-models] [--pg postgresql+psycopg2://postgres@127.0.0.1:5432/postgres]

Each part starts the real endpoint app (`create_app`, modelfleet's protocol and limits,
an untrained LeNet from `bench/models.py`) under uvicorn as its own process, with keys
checked against a scratch lineage database on `--pg` (real argon2 hashes, dropped
afterwards). Settings go in through the endpoint's own environment variables.

- cache: two endpoints at once, MODELFLEET_KEY_CACHE=off and on; `--clients` threads
  send JSON `:predict` (one 28x28 image) with a valid key, in alternating rounds of
  `--seconds`; req/s per mode is the median over the rounds.
- burst: 16 threads each upload a 40-megapixel PNG (~170 KB) to `:classify` at once,
  honouring Retry-After on 503; the endpoint's RSS (/proc) before, at the peak and 30 s
  after the last answer, with the default limits (64 MP pixel budget, heap trim).
  `--burst-variants default,no-budget,no-budget-no-trim` adds the same burst without
  the budget, then without the trim as well (the trim switched off in the bench only).
- timing: sequential requests, an unknown key id and a wrong secret for a known one in
  alternation; the median latency of each and their ratio (one argon2 verification
  each, so the ratio should be ~1). The failed-attempt limit is off for this part.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

# Run as a script, this file's folder (bench/) is first on sys.path.
from bench_endpoint import VERSION, ensure_exported
from wrk_runner import json_instances_body, multipart_body, png_bytes, running_server

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
APP_ENV = "BENCH_HOSTILE_APP"
NO_TRIM_ENV = "BENCH_NO_HEAP_TRIM"
# The burst with the endpoint's defaults, and without what bounds its memory.
BURST_VARIANTS: dict[str, dict[str, str]] = {
    "default": {},
    "no-budget": {"MODELFLEET_SERVE_PIXEL_BUDGET_MP": "100000"},
    "no-budget-no-trim": {"MODELFLEET_SERVE_PIXEL_BUDGET_MP": "100000", NO_TRIM_ENV: "1"},
}
WORKFLOW = "lenet"
LOCAL_PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


# -- the endpoint process --


def bench_app():  # type: ignore[no-untyped-def]
    """One endpoint worker: the bench model as production, keys from the scratch database."""
    from modelfleet.config import ServingPolicy
    from modelfleet.naming import Version
    from modelfleet.serving.app import create_app, prepare_process
    from modelfleet.serving.auth import Authenticator
    from modelfleet.serving.pool import ModelPool, load_version
    from modelfleet.settings import endpoint_limits, get_settings

    prepare_process()
    if os.environ.get(NO_TRIM_ENV):  # the ablation: what the heap trim is worth
        import modelfleet.serving.service as service

        service.trim_heap = lambda: False  # type: ignore[assignment]
    spec = json.loads(os.environ[APP_ENV])
    serving_root = Path(spec["model_dir"]) / "serving"
    policy = ServingPolicy()
    pool = ModelPool(serving_root, {WORKFLOW: policy})
    pool.add(load_version(serving_root, WORKFLOW, Version.parse(VERSION), policy), "production")
    limits = endpoint_limits()
    auth = Authenticator(spec["database_url"], limits=limits)
    return create_app(pool, get_settings(), database_url=None, auth=auth, limits=limits)


def serve(port: int) -> None:
    from modelfleet.serving.workers import run_workers

    run_workers("endpoint_hostile:bench_app", "127.0.0.1", port, log_level="warning")


@contextmanager
def endpoint(port: int, model_dir: Path, database_url: str, log: Path, **env: str) -> Iterator[int]:
    """A bench endpoint with `env` (MODELFLEET_* settings); yields the pid of the worker
    process that serves (under its supervisor, as `modelfleet serve` runs it)."""
    saved = dict(os.environ)
    os.environ.update(env)
    os.environ[APP_ENV] = json.dumps({"model_dir": str(model_dir), "database_url": database_url})
    command = [sys.executable, str(Path(__file__).resolve()), "serve", "--port", str(port)]
    try:
        with running_server(command, port, log=log, ready_timeout_s=300):
            os.environ.clear()
            os.environ.update(saved)
            yield wait_ready(port)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def wait_ready(port: int) -> int:
    """The pid that /healthz names, once it answers."""
    for _ in range(600):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            if response.status == 200:
                return int(json.loads(response.read())["pid"])
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the endpoint on {port} never answered /healthz")


# -- the scratch registry --


@contextmanager
def scratch_registry(server_url: str) -> Iterator[tuple[str, str, str]]:
    """A migrated lineage database with one application granted the bench workflow;
    yields (database URL, its valid key, an unknown key id with a well-formed secret)."""
    import uuid

    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from modelfleet.registry import db
    from modelfleet.registry.store import applications

    name = f"mf_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(db.with_database(server_url, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = db.with_database(server_url, name)
    try:
        db.migrate(url)
        with Session(db.engine(url)) as session, session.begin():
            key = applications.create_application(
                session,
                "bench",
                grants={WORKFLOW: "production"},
                actor="bench",
                workflows={WORKFLOW},
            )
        assert key is not None
        unknown = "mf_" + "0" * 12 + key[15:]  # same length and form, no such key id
        yield url, key, unknown
    finally:
        db.forget_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- clients --


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    connection: http.client.HTTPConnection | None = None,
) -> tuple[int, http.client.HTTPResponse]:
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status, response
    finally:
        if own:
            connection.close()


def throughput(port: int, key: str, clients: int, seconds: float) -> float:
    """Successful :predict requests per second from `clients` keep-alive connections."""
    body, content_type = json_instances_body((28, 28, 1))
    headers = {"Authorization": f"Bearer {key}", "Content-Type": content_type}
    counts = [0] * clients
    failures: list[int] = []
    deadline = time.perf_counter() + seconds

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.perf_counter() < deadline:
            status, _ = request(
                port, "POST", f"/v1/models/{WORKFLOW}:predict", body, headers, connection
            )
            if status == 200:
                counts[index] += 1
            else:
                failures.append(status)
        connection.close()

    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed: statuses {sorted(set(failures))}")
    return sum(counts) / (time.perf_counter() - began)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every_s: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.every_s = pid, every_s
        self.peak = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(self.every_s)


def huge_png(megapixels: int = 40, random_rows: int = 2) -> bytes:
    """An RGB PNG of `megapixels` MP and about 170 KB: flat colour (deflate stops at about
    1000:1, so 120 MB of it stays ~120 KB) plus a few rows of noise (which stay raw)."""
    height, width = 5000, megapixels * 1_000_000 // 5000
    image = np.full((height, width, 3), 200, dtype=np.uint8)
    rng = np.random.default_rng(0)
    rows = rng.choice(height, random_rows, replace=False)
    image[rows] = rng.integers(0, 255, (random_rows, width, 3), dtype=np.uint8)
    return png_bytes(image)


# -- the parts --


def part_cache(args: argparse.Namespace, registry: tuple[str, str, str], out: dict) -> None:
    url, key, _ = registry
    ports = {"off": args.port + 1, "on": args.port + 2}
    with (
        endpoint(
            ports["off"],
            args.model_dir,
            url,
            args.log,
            MODELFLEET_KEY_CACHE="off",
            MODELFLEET_AUTH_FAILURES_PER_MIN="0",
        ),
        endpoint(
            ports["on"],
            args.model_dir,
            url,
            args.log,
            MODELFLEET_KEY_CACHE="on",
            MODELFLEET_AUTH_FAILURES_PER_MIN="0",
        ),
    ):
        for port in ports.values():
            throughput(port, key, args.clients, 2.0)  # warm: first batches, the cache
        rounds: dict[str, list[float]] = {"off": [], "on": []}
        for _ in range(args.rounds):
            for mode, port in ports.items():
                rounds[mode].append(throughput(port, key, args.clients, args.seconds))
                print(f"  cache {mode}: {rounds[mode][-1]:.1f} req/s", flush=True)
    off, on = statistics.median(rounds["off"]), statistics.median(rounds["on"])
    out["cache"] = {"off_req_s": off, "on_req_s": on, "ratio": on / off, "rounds": rounds}
    print(f"cache: off {off:.1f} req/s, on {on:.1f} req/s ({on / off:.1f}x)")


def part_burst(args: argparse.Namespace, registry: tuple[str, str, str], out: dict) -> None:
    png = huge_png()
    out["burst"] = {"png_bytes": len(png), "megapixels": 40}
    for offset, variant in enumerate(args.burst_variants.split(",")):
        out["burst"][variant] = burst(args, registry, png, variant, args.port + 10 + offset)


def burst(
    args: argparse.Namespace, registry: tuple[str, str, str], png: bytes, variant: str, port: int
) -> dict:
    url, key, _ = registry
    body, content_type = multipart_body("file", "huge.png", png)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": content_type}
    with endpoint(port, args.model_dir, url, args.log, **BURST_VARIANTS[variant]) as pid:
        small, small_type = multipart_body("file", "small.png", png_bytes(np.zeros((64, 64))))
        for _ in range(20):  # warm: the key, the model, a small decode
            request(
                port,
                "POST",
                f"/v1/models/{WORKFLOW}:classify",
                small,
                {**headers, "Content-Type": small_type},
            )
        time.sleep(5)
        baseline = []
        for _ in range(10):
            baseline.append(rss_mb(pid))
            time.sleep(0.1)
        before = statistics.median(baseline)
        sampler = RssSampler(pid)
        sampler.start()
        statuses: list[int] = []

        def upload() -> None:
            while True:
                status, response = request(
                    port, "POST", f"/v1/models/{WORKFLOW}:classify", body, headers
                )
                statuses.append(status)
                if status != 503:
                    return
                time.sleep(float(response.headers.get("Retry-After", "1")))

        began = time.perf_counter()
        threads = [threading.Thread(target=upload) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        burst_s = time.perf_counter() - began
        at_end = rss_mb(pid)
        time.sleep(30)
        sampler.stop.set()
        sampler.join()
        after = rss_mb(pid)
    result = {
        "rss_before_mb": before,
        "rss_peak_mb": sampler.peak,
        "rss_at_end_mb": at_end,
        "rss_30s_after_mb": after,
        "over_baseline_mb": after - before,
        "burst_s": burst_s,
        "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
    }
    print(
        f"burst ({variant}): PNG {len(png) / 1024:.0f} KB of 40 MP x16; RSS before "
        f"{before:.0f} MB, peak {sampler.peak:.0f} MB, 30 s after {after:.0f} MB "
        f"({after - before:+.0f} MB); {burst_s:.1f} s; statuses {result['statuses']}"
    )
    return result


def part_timing(args: argparse.Namespace, registry: tuple[str, str, str], out: dict) -> None:
    url, key, unknown = registry
    wrong = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    port = args.port + 4
    samples: dict[str, list[float]] = {"unknown key id": [], "wrong secret": []}
    with endpoint(port, args.model_dir, url, args.log, MODELFLEET_AUTH_FAILURES_PER_MIN="0"):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def timed(candidate: str) -> float:
            began = time.perf_counter()
            status, _ = request(
                port,
                "GET",
                f"/v2/models/{WORKFLOW}",
                headers={"Authorization": f"Bearer {candidate}"},
                connection=connection,
            )
            if status != 401:
                raise RuntimeError(f"expected 401, got {status}")
            return time.perf_counter() - began

        for _ in range(5):
            timed(unknown), timed(wrong)
        for i in range(args.timing_requests):
            order = [("unknown key id", unknown), ("wrong secret", wrong)]
            for label, candidate in order if i % 2 else order[::-1]:
                samples[label].append(timed(candidate))
    medians = {label: statistics.median(values) * 1000 for label, values in samples.items()}
    ratio = medians["unknown key id"] / medians["wrong secret"]
    out["timing"] = {
        "median_ms": medians,
        "ratio_unknown_over_wrong": ratio,
        "requests_each": args.timing_requests,
    }
    print(
        f"timing: median unknown key id {medians['unknown key id']:.1f} ms, wrong secret "
        f"{medians['wrong secret']:.1f} ms, ratio {ratio:.3f}"
    )


PARTS: dict[str, Callable[[argparse.Namespace, tuple[str, str, str], dict], None]] = {
    "cache": part_cache,
    "burst": part_burst,
    "timing": part_timing,
}


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        serve(int(sys.argv[sys.argv.index("--port") + 1]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--part", default="cache,burst,timing")
    parser.add_argument(
        "--model-dir", type=Path, default=Path(tempfile.gettempdir()) / "bench-models"
    )
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG", LOCAL_PG))
    parser.add_argument("--port", type=int, default=8610)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timing-requests", type=int, default=150)
    parser.add_argument(
        "--burst-variants", default="default", help=f"of {', '.join(BURST_VARIANTS)}"
    )
    parser.add_argument(
        "--log", type=Path, default=Path(tempfile.gettempdir()) / "bench-hostile.log"
    )
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    ensure_exported(args.model_dir, WORKFLOW, WORKFLOW)
    out: dict = {"cpus": os.cpu_count(), "load_before": os.getloadavg()}
    with scratch_registry(args.pg) as registry:
        for part in args.part.split(","):
            PARTS[part](args, registry, out)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
