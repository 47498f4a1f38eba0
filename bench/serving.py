"""Benchmark: the prediction endpoint against its baselines, in one run.

For each model kind (untrained, exported by the real exporter, `bench/models.py`):

  (a) compute limit  the compiled `serve` function alone on batches of 64 (images/s)
  (b) HTTP reference a stock FastAPI app, same `:predict` JSON, no model (wrk, 32 conns)
  (c) naive server   FastAPI + `model.predict` per request (wrk, 8 conns)
  (d) the endpoint   modelfleet's real app (`bench/bench_endpoint.py`) at each client
                     count, for JSON `:predict` (one nested-list instance), V2 `infer`
                     (one FP32 tensor, flat data) and `:classify` (multipart PNG upload);
                     once per worker count (`--workers 1,2`: processes on one port)

Every request carries `Authorization: Bearer <key>` and holds one image, so req/s is
images/s. One server runs at a time; wrk runs with one thread (on 2 cores: wrk on one,
the server on the other). Then the targets are checked:

  JSON :predict at 32 clients >= 80% of min((a), (b)) and >= 30x (c);
  p99 at 8 clients < 50 ms (lenet).

    .venv/bin/python bench/serving.py [--kinds lenet,resnet] [--duration 10] \
        [--clients 1,8,32,64] [--workers 1,2] [--out /tmp/serving-bench.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import re
import resource
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np

# Run as a script, this file's folder (bench/) is first on sys.path.
from compute_limit import images_per_second
from wrk_runner import (
    json_instances_body,
    multipart_body,
    png_bytes,
    run_wrk,
    running_server,
)

from modelfleet.host.cores import usable_cores
from modelfleet.host.ports import free_port
from models import KINDS, bench_kind, export_bench_model, load_infer

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BENCH = Path(__file__).resolve().parent
KEY_ENV = "BENCH_KEY"
REFERENCE_CLIENTS = 32
NAIVE_CLIENTS = 8
TARGET_CLIENTS = 32  # JSON :predict here is held against (a), (b) and (c)
LATENCY_CLIENTS = 8
TARGET_OF_LIMIT = 0.8
TARGET_OVER_NAIVE = 30.0
TARGET_P99_MS = 50.0
ROUTES = ("predict", "v2", "classify")
ROUTE_LABEL = {
    "predict": "JSON :predict",
    "v2": "V2 infer (FP32)",
    "classify": ":classify (PNG upload)",
}


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- request bodies --


def request_bodies(kind: str, name: str, port: int, folder: Path) -> dict[str, dict[str, Any]]:
    """route -> {url, body path, content type}: one image per request, of the model's size."""
    shape = bench_kind(kind).input_shape
    base = f"http://127.0.0.1:{port}"
    predict, predict_type = json_instances_body(shape)
    v2 = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "shape": [1, *shape],
                    "datatype": "FP32",
                    "data": np.full(int(np.prod(shape)), 0.5, dtype=np.float32).tolist(),
                }
            ]
        }
    ).encode()
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=shape, dtype=np.uint8)
    upload, upload_type = multipart_body("file", "image.png", png_bytes(image))
    bodies = {
        "predict": (f"{base}/v1/models/{name}:predict", predict, predict_type),
        "v2": (f"{base}/v2/models/{name}/infer", v2, "application/json"),
        "classify": (f"{base}/v1/models/{name}:classify", upload, upload_type),
    }
    out = {}
    for route, (url, body, content_type) in bodies.items():
        path = folder / f"{kind}-{route}.body"
        path.write_bytes(body)
        out[route] = {"url": url, "body": path, "content_type": content_type, "bytes": len(body)}
    return out


# -- what the machine was doing --


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields), idle


def background_cpu(seconds: float = 1.0) -> float | None:
    """Busy share of all cores over `seconds`, while no server of ours runs (percent)."""
    try:
        total0, idle0 = _cpu_times()
        time.sleep(seconds)
        total1, idle1 = _cpu_times()
    except OSError:
        return None
    total = total1 - total0
    return round(100.0 * (1 - (idle1 - idle0) / total), 1) if total else None


def wait_until_quiet(below_pct: float, max_wait_s: float) -> float | None:
    """Wait (up to `max_wait_s`) for the machine's busy share to drop under `below_pct`
    over a 5 s window; returns the last reading (a shared box: someone's test suite)."""
    deadline = time.monotonic() + max_wait_s
    while True:
        busy = background_cpu(5.0)
        if busy is None or busy < below_pct or time.monotonic() >= deadline:
            return busy
        progress(f"machine {busy}% busy; waiting for < {below_pct:g}%")
        time.sleep(10)


def process_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process and its threads, plus its live descendants (the
    endpoint's worker processes)."""
    stats = _proc_stats()
    if pid not in stats:
        return None
    children: dict[int, list[int]] = {}
    for child, (parent, _) in stats.items():
        children.setdefault(parent, []).append(child)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats[current][1]
        todo += children.get(current, [])
    return total


def _proc_stats() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds) of every process."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return found


def machine() -> dict[str, Any]:
    cpu = ""
    with suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    memory_gb = None
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[1])  # type: ignore[index]
        memory_gb = round(kb / 1024**2, 1)
    except (OSError, TypeError):
        pass
    import tensorflow as tf

    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": memory_gb,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
    }


def batch_stats(port: int) -> tuple[float, float]:
    """(rows, inference calls) so far, summed from the endpoint's /metrics."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
    finally:
        connection.close()
    rows = calls = 0.0
    for line in text.splitlines():
        if line.startswith("modelfleet_batch_size_sum"):
            rows += float(line.rsplit(" ", 1)[1])
        elif line.startswith("modelfleet_batch_size_count"):
            calls += float(line.rsplit(" ", 1)[1])
    return rows, calls


# -- one measurement --


def measure(
    server: Any,
    target: dict[str, Any],
    clients: int,
    duration: float,
    auth: str,
    *,
    port: int | None = None,
) -> dict[str, Any]:
    """One wrk run against a running server; adds CPU shares and (endpoint) mean batch.

    CPU in percent of one core over the run: the server processes (all threads), wrk
    (this process's reaped children), and `other_cpu_pct`: whatever else the machine
    did meanwhile, less this driver (another job on a shared box shows here).
    """
    before_cpu = process_cpu_seconds(server.pid)
    before_batch = batch_stats(port) if port is not None else None
    before_machine = _cpu_times()
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    before_self = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    result = run_wrk(
        target["url"], target["body"], target["content_type"], clients, duration, 1, auth
    )
    wall = time.perf_counter() - began
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    after_self = resource.getrusage(resource.RUSAGE_SELF)
    after_machine = _cpu_times()
    after_cpu = process_cpu_seconds(server.pid)
    server_s = None
    if before_cpu is not None and after_cpu is not None:
        server_s = after_cpu - before_cpu
        result["server_cpu_pct"] = round(100 * server_s / wall, 1)
    wrk_s = (after_children.ru_utime + after_children.ru_stime) - (
        before_children.ru_utime + before_children.ru_stime
    )
    result["wrk_cpu_pct"] = round(100 * wrk_s / wall, 1)
    own_s = (after_self.ru_utime + after_self.ru_stime) - (
        before_self.ru_utime + before_self.ru_stime
    )
    ticks = after_machine[0] - before_machine[0]
    if ticks and server_s is not None:
        busy = 1 - (after_machine[1] - before_machine[1]) / ticks
        machine_s = busy * (os.cpu_count() or 1) * wall
        result["other_cpu_pct"] = round(
            max(0.0, 100 * (machine_s - server_s - wrk_s - own_s) / wall), 1
        )
    if before_batch is not None and port is not None:
        rows, calls = (a - b for a, b in zip(batch_stats(port), before_batch, strict=True))
        result["mean_batch"] = round(rows / calls, 2) if calls else None
    result["error_total"] = sum(result["errors"].values())
    result["request_bytes"] = target["bytes"]
    return result


def summary(result: dict[str, Any]) -> str:
    extra = f", mean batch {result['mean_batch']}" if result.get("mean_batch") else ""
    return (
        f"{result['ok_requests_per_s']:,.0f} req/s, p50 {result['latency_p50_ms']:.1f} ms, "
        f"p99 {result['latency_p99_ms']:.1f} ms, errors {result['error_total']}, "
        f"CPU server {result.get('server_cpu_pct', '?')}% wrk {result.get('wrk_cpu_pct', '?')}% "
        f"other {result.get('other_cpu_pct', '?')}%{extra}"
    )


@contextmanager
def server(command: list[str], label: str, log: Path) -> Iterator[tuple[Any, float | None]]:
    """Start one server (none other runs); yields (process, background CPU % before)."""
    busy = background_cpu()
    progress(f"starting {label} (background CPU before start: {busy}%)")
    began = time.perf_counter()
    port = int(command[command.index("--port") + 1])
    with running_server(command, port, log=log) as process:
        progress(f"{label} up after {time.perf_counter() - began:.1f} s")
        yield process, busy


def bench_kind_once(kind: str, root: Path, args: argparse.Namespace, auth: str) -> dict[str, Any]:
    shape = bench_kind(kind).input_shape
    out: dict[str, Any] = {"input_shape": list(shape)}
    progress(f"{kind}: exporting the untrained model")
    path = export_bench_model(kind, root, name=kind)

    progress(f"{kind}: (a) compute limit, batches of 64 for {args.compute_seconds:g} s")
    out["compute_limit_images_per_s"] = round(
        images_per_second(load_infer(path), shape, 64, args.compute_seconds), 1
    )
    progress(f"{kind}: (a) {out['compute_limit_images_per_s']:,.0f} images/s")

    python = sys.executable
    warm = min(args.warmup, args.duration)

    port = free_port()
    bodies = request_bodies(kind, kind, port, root)
    command = [python, str(BENCH / "reference_server.py"), "--port", str(port)]
    with server(command, "(b) HTTP reference", args.server_log) as (process, busy):
        run_wrk(**_wrk_args(bodies["predict"], REFERENCE_CLIENTS, warm, auth))
        result = measure(process, bodies["predict"], REFERENCE_CLIENTS, args.duration, auth)
        result["background_cpu_pct"] = busy
    out["reference"] = result
    progress(f"{kind}: (b) reference @{REFERENCE_CLIENTS}: {summary(result)}")

    port = free_port()
    bodies = request_bodies(kind, kind, port, root)
    command = [python, str(BENCH / "naive_server.py"), "--port", str(port), "--kind", kind]
    with server(command, "(c) naive server", args.server_log) as (process, busy):
        run_wrk(**_wrk_args(bodies["predict"], NAIVE_CLIENTS, warm, auth))
        result = measure(process, bodies["predict"], NAIVE_CLIENTS, args.duration, auth)
        result["background_cpu_pct"] = busy
    out["naive"] = result
    progress(f"{kind}: (c) naive @{NAIVE_CLIENTS}: {summary(result)}")

    out["endpoint"] = {}
    for workers in args.workers:
        out["endpoint"][str(workers)] = bench_endpoint(kind, root, args, auth, workers)
    return out


def bench_endpoint(
    kind: str, root: Path, args: argparse.Namespace, auth: str, workers: int
) -> dict[str, dict[str, Any]]:
    """(d): every route at every client count, against `workers` endpoint processes."""
    port = free_port()
    bodies = request_bodies(kind, kind, port, root)
    command = [
        sys.executable,
        str(args.endpoint),
        "--port",
        str(port),
        "--model-dir",
        str(root),
        "--kind",
        kind,
        "--max-batch",
        str(args.max_batch),
        "--batch-timeout-ms",
        str(args.batch_timeout_ms),
    ]
    if workers > 1:  # so that launchers of older code (A/B) still start with one
        command += ["--workers", str(workers)]
    label = f"(d) endpoint, {_workers(workers)}"
    warm = min(args.warmup, args.duration)
    endpoint: dict[str, dict[str, Any]] = {}
    with server(command, label, args.server_log) as (process, busy):
        for route in ROUTES:
            run_wrk(**_wrk_args(bodies[route], max(args.clients), warm, auth))
            endpoint[route] = {}
            for clients in args.clients:
                result = measure(process, bodies[route], clients, args.duration, auth, port=port)
                result["background_cpu_pct"] = busy
                endpoint[route][str(clients)] = result
                progress(f"{kind}: {label} {ROUTE_LABEL[route]} @{clients}: {summary(result)}")
    return endpoint


def _workers(count: int) -> str:
    return "1 worker" if count == 1 else f"{count} workers"


def _wrk_args(target: dict[str, Any], clients: int, duration: float, auth: str) -> dict[str, Any]:
    return {
        "url": target["url"],
        "body_path": target["body"],
        "content_type": target["content_type"],
        "connections": clients,
        "duration_s": duration,
        "threads": 1,
        "auth": auth,
    }


# -- targets and report --


def checks(kind: str, result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets for one kind: name, measured, wanted, passed."""
    found: list[dict[str, Any]] = []
    for workers, endpoint in result["endpoint"].items():
        found += _endpoint_checks(kind, result, endpoint, f" ({_workers(int(workers))})")
    for check in found:
        check["kind"] = kind
    return found


def _endpoint_checks(
    kind: str, result: dict[str, Any], endpoint: dict[str, Any], who: str
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    predict = endpoint["predict"].get(str(TARGET_CLIENTS))
    if predict is not None:
        limit = min(result["compute_limit_images_per_s"], result["reference"]["ok_requests_per_s"])
        got = predict["ok_requests_per_s"]
        found.append(
            {
                "check": f"JSON :predict @{TARGET_CLIENTS} >= {TARGET_OF_LIMIT:.0%} of min((a), (b)){who}",
                "measured": f"{got:,.0f} req/s = {got / limit:.0%} of {limit:,.0f}",
                "passed": got >= TARGET_OF_LIMIT * limit,
            }
        )
        naive = result["naive"]["ok_requests_per_s"]
        ratio = got / naive if naive else float("inf")
        found.append(
            {
                "check": f"JSON :predict @{TARGET_CLIENTS} >= {TARGET_OVER_NAIVE:g}x (c){who}",
                "measured": f"{ratio:.1f}x ({got:,.0f} vs {naive:,.1f} req/s)",
                "passed": ratio >= TARGET_OVER_NAIVE,
            }
        )
    if kind == "lenet":
        for route in ROUTES:
            run = endpoint[route].get(str(LATENCY_CLIENTS))
            if run is None:
                continue
            p99 = run["latency_p99_ms"]
            found.append(
                {
                    "check": f"{ROUTE_LABEL[route]} p99 @{LATENCY_CLIENTS} < {TARGET_P99_MS:g} ms{who}",
                    "measured": f"{p99:.1f} ms",
                    "passed": p99 < TARGET_P99_MS and run["error_total"] == 0,
                }
            )
    return found


def table_rows(kind: str, result: dict[str, Any]) -> Iterator[list[str]]:
    def cells(run: dict[str, Any]) -> list[str]:
        return [
            f"{run['ok_requests_per_s']:,.0f}",
            f"{run['latency_p50_ms']:.1f}",
            f"{run['latency_p99_ms']:.1f}",
            str(run["error_total"]),
            "" if run.get("mean_batch") is None else f"{run['mean_batch']:.1f}",
            f"{run.get('server_cpu_pct', 0):.0f}%",
            f"{run.get('other_cpu_pct', 0):.0f}%",
        ]

    limit = result["compute_limit_images_per_s"]
    yield [
        kind,
        "(a) compute limit",
        "batch of 64, no HTTP",
        "",
        f"{limit:,.0f}",
        "",
        "",
        "",
        "64",
        "",
        "",
    ]
    yield [
        kind,
        "(b) HTTP reference",
        "JSON :predict",
        str(REFERENCE_CLIENTS),
        *cells(result["reference"]),
    ]
    yield [kind, "(c) naive", "JSON :predict", str(NAIVE_CLIENTS), *cells(result["naive"])]
    for workers, endpoint in result["endpoint"].items():
        for route in ROUTES:
            for clients, run in endpoint[route].items():
                label = f"(d) endpoint, {_workers(int(workers))}"
                yield [kind, label, ROUTE_LABEL[route], clients, *cells(run)]


HEADER = [
    "model",
    "server",
    "request",
    "clients",
    "req/s",
    "p50 ms",
    "p99 ms",
    "errors",
    "mean batch",
    "server CPU",
    "other CPU",
]


def markdown(results: dict[str, Any]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for kind, result in results["kinds"].items():
        lines += ["| " + " | ".join(row) + " |" for row in table_rows(kind, result)]
    return "\n".join(lines)


def print_checks(found: list[dict[str, Any]]) -> None:
    print("\nTargets:")
    for check in found:
        mark = "PASS" if check["passed"] else "FAIL"
        print(f"  [{mark}] {check['kind']}: {check['check']}: {check['measured']}")


def parse_ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--kinds", default="lenet,resnet", help=f"of {', '.join(KINDS)}")
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--clients", type=parse_ints, default=[1, 8, 32, 64])
    parser.add_argument(
        "--workers",
        type=parse_ints,
        default=sorted({1, usable_cores()}),
        help="endpoint processes, each measured in turn (default 1 and the number of cores)",
    )
    parser.add_argument("--warmup", type=float, default=2, help="seconds, per server and route")
    parser.add_argument("--compute-seconds", type=float, default=5)
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--batch-timeout-ms", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/serving-bench.json"))
    parser.add_argument(
        "--quiet-below",
        type=float,
        default=0,
        help="first wait until the machine is less busy than this (percent of all cores)",
    )
    parser.add_argument("--quiet-wait", type=float, default=900, help="at most this long (s)")
    parser.add_argument(
        "--endpoint",
        type=Path,
        default=BENCH / "bench_endpoint.py",
        help="the endpoint launcher (same arguments as bench_endpoint.py): A/B a patched copy",
    )
    parser.add_argument(
        "--server-log",
        type=Path,
        default=Path("/tmp/serving-bench-servers.log"),
        help="the servers' stdout and stderr (appended)",
    )
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    for kind in kinds:
        bench_kind(kind)  # unknown kinds fail before anything runs

    key = secrets.token_urlsafe(24)
    os.environ[KEY_ENV] = key  # the endpoint reads it; never on a command line
    auth = f"Bearer {key}"
    busy_at_start = None
    if args.quiet_below > 0:
        busy_at_start = wait_until_quiet(args.quiet_below, args.quiet_wait)
    results: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": machine(),
        "load_average_start": os.getloadavg(),
        "busy_pct_at_start": busy_at_start,
        "kinds": {},
    }
    progress(
        f"load average {results['load_average_start']}, "
        f"background CPU {background_cpu()}% of {os.cpu_count()} cores"
    )
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="serving-bench-") as tmp:
        for kind in kinds:
            results["kinds"][kind] = bench_kind_once(kind, Path(tmp) / kind, args, auth)
    results["load_average_end"] = os.getloadavg()
    results["wall_s"] = round(time.perf_counter() - began, 1)
    found = [c for kind in kinds for c in checks(kind, results["kinds"][kind])]
    results["checks"] = found
    results["markdown"] = markdown(results)
    others = [r["other_cpu_pct"] for r in _runs(results) if "other_cpu_pct" in r]
    if others:
        results["other_cpu_pct_mean"] = round(sum(others) / len(others), 1)

    print(
        f"\nResults of {results['date']} ({results['wall_s']:.0f} s, {args.duration:g} s per run):\n"
    )
    print(results["markdown"])
    if others:
        print(
            f"\nCPU not ours (other jobs on this machine) during the runs: "
            f"mean {results['other_cpu_pct_mean']:g}% of one core, max {max(others):g}%"
        )
    print_checks(found)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=_json_default))
    print(f"\nraw results: {args.out}")


def _runs(results: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every wrk measurement in the results."""
    for result in results["kinds"].values():
        yield result["reference"]
        yield result["naive"]
        for endpoint in result["endpoint"].values():
            for by_clients in endpoint.values():
                yield from by_clients.values()


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")


if __name__ == "__main__":
    main()
