"""Benchmark: V2 infer over JSON, over HTTP with binary tensors, and over gRPC, same run.

For each model (LeNet 28x28x1, ResNet 32x32x3, LeNet 224x224x3), exports the untrained
model through the platform's own exporter (bench/models.py), starts the real endpoint
(bench/bench_endpoint.py: `create_app` under uvicorn, gRPC in the same event loop, as
`modelfleet serve` runs it) and drives it with ONE load generator for all three
protocols (or those `--protocols` names, e.g. one alone to profile the endpoint under it):
asyncio, `--clients` coroutines, each sending one-image requests back to back for
`--duration` seconds. HTTP goes through a minimal keep-alive client (a connection per
coroutine), gRPC through one grpc.aio channel. Request bodies are encoded once before
the clock starts and answers are read as bytes (not decoded), so the client's cost per
request stays small and alike; it shares the machine with the server all the same.

Protocols run in interleaved rounds (JSON, binary, gRPC, JSON, ...), so machine noise
hits all of them alike; the ratios come from one run. The endpoint's CPU time per request
is split into its event loop's (HTTP, routing, decoding, answers: what the wire format
changes) and the rest (inference: the batcher's thread and TensorFlow's pools); the load
generator's own CPU time per request is shown beside it.
Targets: binary >= 2x JSON req/s at 224x224x3, binary >= 1.3x JSON at 32x32x3.

    .venv/bin/python bench/protocols.py [--kinds lenet,resnet,lenet224] [--clients 32] \
        [--duration 4] [--rounds 3] [--protocols json,binary,grpc] [--json-out F]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

# Run as a script, this file's folder (bench/) is first on sys.path.
from wrk_runner import running_server, wait_for_port

from modelfleet.host.cores import usable_cores
from modelfleet.host.ports import free_port
from models import bench_kind, export_bench_model

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BENCH = Path(__file__).resolve().parent
KEY_ENV = "BENCH_KEY"
PROTOCOLS = ("json", "binary", "grpc")
LABEL = {"json": "HTTP JSON", "binary": "HTTP binary", "grpc": "gRPC"}
TARGETS = {"lenet224": 2.0, "resnet": 1.3}  # binary / JSON req/s
INFER = "/inference.GRPCInferenceService/ModelInfer"
HEADER = "Inference-Header-Content-Length"

Send = Callable[[], Awaitable[None]]


def bodies(name: str, input_name: str, shape: tuple[int, ...]) -> dict[str, Any]:
    """The same image in each protocol's encoding, encoded once."""
    import orjson

    from modelfleet.serving.grpc import grpc_predict_v2_pb2 as pb

    pixels = np.random.default_rng(0).random((1, *shape), dtype=np.float32)
    tensor = {"name": input_name, "shape": [1, *shape], "datatype": "FP32"}
    raw = pixels.astype("<f4").tobytes()
    header = orjson.dumps(
        {
            "inputs": [{**tensor, "parameters": {"binary_data_size": len(raw)}}],
            "parameters": {"binary_data_output": True},
        }
    )
    request = pb.ModelInferRequest(model_name=name, raw_input_contents=[raw])
    grpc_tensor = request.inputs.add()
    grpc_tensor.name, grpc_tensor.datatype = input_name, "FP32"
    grpc_tensor.shape.extend([1, *shape])
    return {
        "json": orjson.dumps({"inputs": [{**tensor, "data": pixels.ravel().tolist()}]}),
        "binary": (header + raw, {HEADER: str(len(header))}),
        "grpc": request.SerializeToString(),
    }


async def run_load(send: Send, clients: int, duration: float) -> tuple[float, list[float]]:
    """`clients` coroutines calling `send` back to back until `duration` is up."""
    latencies: list[float] = []
    deadline = time.perf_counter() + duration

    async def client() -> None:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            await send()
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - began, latencies


class HttpConnection:
    """One keep-alive HTTP/1.1 connection that posts prepared requests and reads whole
    answers. Leaner than a general client (httpx managed ~70 req/s here, against the
    hundreds gRPC's C core reached), so the server, not the client, sets the pace."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> HttpConnection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length is None:
            raise RuntimeError(f"an answer without Content-Length: {head[:300]!r}")
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def http_request(url: str, port: int, key: str, body: bytes, extra: dict[str, str]) -> bytes:
    headers = {
        "Host": f"127.0.0.1:{port}",
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json" if not extra else "application/octet-stream",
        "Content-Length": str(len(body)),
        **extra,
    }
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"POST {url} HTTP/1.1\r\n{head}\r\n".encode() + body


async def bench_model(
    name: str, port: int, grpc_port: int, server_pid: int, key: str, args: argparse.Namespace
) -> dict[str, Any]:
    import grpc
    import httpx

    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers) as http,
        grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel,
    ):
        meta = (await http.get(f"/v2/models/{name}")).raise_for_status().json()
        shape = tuple(meta["inputs"][0]["shape"][1:])
        body = bodies(name, meta["inputs"][0]["name"], shape)
        infer = channel.unary_unary(INFER)  # bytes in, bytes out: no (de)serializing
        grpc_meta = (("authorization", headers["Authorization"]),)
        url = f"/v2/models/{name}/infer"
        requests = {
            "json": http_request(url, port, key, body["json"], {}),
            "binary": http_request(url, port, key, *body["binary"]),
        }
        # Each client coroutine has its own connection, as each has its own gRPC stream.
        # They are opened afresh before each HTTP round's clock starts: uvicorn closes a
        # keep-alive connection idle for 5 s, as they are through a long gRPC round.
        idle: list[HttpConnection] = []

        def http_sender(protocol: str) -> Send:
            request = requests[protocol]

            async def send() -> None:
                connection = idle.pop()
                try:
                    status, answer = await connection.send(request)
                finally:
                    idle.append(connection)
                if status != 200:
                    raise RuntimeError(f"{protocol} infer: {status} {answer[:300]!r}")

            return send

        async def send_grpc() -> None:
            await infer(body["grpc"], metadata=grpc_meta, timeout=60)

        senders = {"json": http_sender("json"), "binary": http_sender("binary"), "grpc": send_grpc}

        async def measure(protocol: str, duration: float) -> Run:
            if protocol != "grpc":
                idle[:] = [await HttpConnection.open(port) for _ in range(args.clients)]
            cpu, loop = cpu_seconds(server_pid), loop_seconds(server_pid)
            client = time.process_time()
            elapsed, latencies = await run_load(senders[protocol], args.clients, duration)
            client = time.process_time() - client
            cpu, loop = cpu_seconds(server_pid) - cpu, loop_seconds(server_pid) - loop
            for connection in idle:
                connection.close()
            idle.clear()
            return Run(elapsed, latencies, cpu, loop, client)

        for protocol in args.protocols:  # warm up: graphs traced, channel connected
            await measure(protocol, args.warmup)
        runs: dict[str, list[Run]] = {p: [] for p in args.protocols}
        for round_ in range(args.rounds):
            for protocol in args.protocols:
                runs[protocol].append(await measure(protocol, args.duration))
            rates = "  ".join(f"{p} {runs[p][-1].rate:.0f}" for p in args.protocols)
            progress(f"{name}: round {round_ + 1}/{args.rounds} req/s: {rates}")
    return {
        "input_shape": list(shape),
        "request_bytes": {
            "json": len(body["json"]),
            "binary": len(body["binary"][0]),
            "grpc": len(body["grpc"]),
        },
        **{protocol: summarise(runs[protocol]) for protocol in args.protocols},
    }


class Run(NamedTuple):
    """One protocol's round: wall time, each request's latency, the server's CPU time."""

    elapsed: float
    latencies: list[float]
    server_cpu_s: float
    loop_cpu_s: float  # the serving process's main thread: its event loop
    client_cpu_s: float  # this process: the load generator, which shares the machine

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed


def stat_seconds(stat: Path) -> float:
    """User + system CPU time from a /proc `stat` file (a process's, or one thread's)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir()
            for c in (task / "children").read_text().split()]  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants (the supervised worker
    that serves), all threads, from /proc."""
    return stat_seconds(Path(f"/proc/{pid}/stat")) + sum(map(cpu_seconds, children(pid)))


def loop_seconds(pid: int) -> float:
    """CPU time of the main thread (a thread's id equals its process's) of each process
    below `pid`: the serving worker's event loop, which parses, routes and answers.
    The other threads run inference (the batcher's thread and TensorFlow's pools)."""
    return sum(
        stat_seconds(Path(f"/proc/{child}/task/{child}/stat")) + loop_seconds(child)
        for child in children(pid)
    )


def summarise(runs: list[Run]) -> dict[str, Any]:
    latencies = sorted(x for run in runs for x in run.latencies)

    def ms_per_request(seconds: float) -> float:
        return round(1000 * seconds / len(latencies), 2)

    return {
        "req_per_s": round(len(latencies) / sum(run.elapsed for run in runs), 1),
        "rounds_req_per_s": [round(run.rate, 1) for run in runs],
        # CPU per request is steadier than req/s on a shared machine: others' load
        # stretches the wall clock, not the work done per request.
        "server_cpu_ms_per_req": ms_per_request(sum(r.server_cpu_s for r in runs)),
        "loop_cpu_ms_per_req": ms_per_request(sum(r.loop_cpu_s for r in runs)),
        "client_cpu_ms_per_req": ms_per_request(sum(r.client_cpu_s for r in runs)),
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000, 1),
    }


def serve_and_bench(kind: str, root: Path, key: str, args: argparse.Namespace) -> dict[str, Any]:
    bench_kind(kind)
    progress(f"{kind}: exporting the untrained model")
    export_bench_model(kind, root, name=kind)
    port, grpc_port = free_port(), free_port()
    command = [
        sys.executable,
        str(BENCH / "bench_endpoint.py"),
        "--port",
        str(port),
        "--grpc-port",
        str(grpc_port),
        "--model-dir",
        str(root),
        "--kind",
        kind,
        "--max-batch",
        str(args.max_batch),
    ]
    with running_server(command, port, log=args.server_log) as server:
        wait_for_port(grpc_port, timeout_s=60)
        progress(f"{kind}: endpoint up (HTTP {port}, gRPC {grpc_port})")
        return asyncio.run(bench_model(kind, port, grpc_port, server.pid, key, args))


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def table(results: dict[str, Any]) -> str:
    lines = [
        "| model | protocol | request bytes | req/s | vs JSON | p50 ms | p99 ms "
        "| server CPU ms/req | of it, event loop | client CPU ms/req |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, result in results["kinds"].items():
        shape = "x".join(map(str, result["input_shape"]))
        base = result["json"]["req_per_s"] if "json" in result else None
        for protocol in (p for p in PROTOCOLS if p in result):
            run = result[protocol]
            versus = "-" if base is None else f"{run['req_per_s'] / base:.2f}x"
            lines.append(
                f"| {kind} {shape} | {LABEL[protocol]} | {result['request_bytes'][protocol]:,} | "
                f"{run['req_per_s']:.0f} | {versus} | {run['p50_ms']:.1f} | "
                f"{run['p99_ms']:.1f} | {run['server_cpu_ms_per_req']:.2f} | "
                f"{run['loop_cpu_ms_per_req']:.2f} | {run['client_cpu_ms_per_req']:.2f} |"
            )
    return "\n".join(lines)


def checks(results: dict[str, Any]) -> list[str]:
    found = []
    for kind, target in TARGETS.items():
        result = results["kinds"].get(kind, {})
        if "json" in result and "binary" in result:
            ratio = result["binary"]["req_per_s"] / result["json"]["req_per_s"]
            verdict = "PASS" if ratio >= target else "MISS"
            # Rounds are interleaved, so each round's ratio is a paired comparison too.
            rounds = zip(
                result["binary"]["rounds_req_per_s"],
                result["json"]["rounds_req_per_s"],
                strict=True,
            )
            each = ", ".join(f"{b / j:.2f}" for b, j in rounds)
            found.append(
                f"{verdict} {kind}: binary / JSON = {ratio:.2f}x (target >= {target}x); "
                f"per round {each}"
            )
    return found


def names(text: str) -> list[str]:
    """A comma-separated option's names, each once, in order."""
    return list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--kinds", default="lenet,resnet,lenet224")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=1.5, help="seconds per protocol")
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument(
        "--protocols",
        default=",".join(PROTOCOLS),
        help="which to run, e.g. binary alone to profile the endpoint under one of them",
    )
    parser.add_argument("--server-log", type=Path, default=Path("/tmp/protocols-bench.log"))
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()
    kinds = names(args.kinds)
    args.protocols = names(args.protocols)
    if not args.protocols or set(args.protocols) - set(PROTOCOLS):
        parser.error(f"--protocols takes some of {', '.join(PROTOCOLS)}")
    for kind in kinds:
        bench_kind(kind)  # an unknown kind fails before anything runs
    key = secrets.token_urlsafe(16)
    os.environ[KEY_ENV] = key  # for the endpoint process; never on its command line
    results: dict[str, Any] = {
        "load_before": os.getloadavg(),
        "cpus": usable_cores(),
        "clients": args.clients,
        "protocols": args.protocols,
        "rounds": args.rounds,
        "duration_s": args.duration,
        "kinds": {},
    }
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            results["kinds"][kind] = serve_and_bench(kind, Path(tmp) / kind, key, args)
    results["load_after"] = os.getloadavg()
    results["wall_s"] = round(time.perf_counter() - began, 1)
    print(table(results))
    load = " / ".join(f"{x:.1f}" for x in results["load_before"])
    after = " / ".join(f"{x:.1f}" for x in results["load_after"])
    print(
        f"\n{results['cpus']} CPUs; load average (1/5/15 min) before {load}, after {after}; "
        f"{results['wall_s']:.0f} s in all"
    )
    for line in checks(results):
        print(line)
    if not {"json", "binary"} <= set(args.protocols):
        print("targets not checked: they compare binary with JSON, and not both ran")
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
