"""Benchmark: dynamic batching vs one inference call per request, same run.

Builds an untrained LeNet-5 (weights don't matter for speed), exports it in TF
Serving layout, serves it through the real FastAPI app in-process (ASGI), and
fires N concurrent `:predict` requests of one image each, first with batching
off (max_batch=1), then on. Reports requests/s and the ratio.

    .venv/bin/python bench/serving_batching.py [--requests 2000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
KEY = "mf_bench.secret"


def export_untrained(root: Path) -> None:
    import keras

    from modelfleet import zoo
    from modelfleet.config import TrainParams, TrainSpec
    from modelfleet.training.export import export

    spec = TrainSpec(
        name="bench",
        architecture="lenet",
        classes=tuple("0123456789"),
        input_shape=(28, 28, 1),
        params=TrainParams(),
    )
    repo = root / "repo"
    (repo / "models/bench").mkdir(parents=True)
    keras.utils.set_random_seed(0)
    zoo.build("lenet", (28, 28, 1), 10).save_weights(repo / "models/bench/model.weights.h5")
    export(spec, repo, "v1.0.0", root / "serving")


async def fire(app, requests: int, concurrency: int) -> tuple[float, list[float]]:
    import httpx

    body = {"instances": [[[[0.5]] * 28] * 28]}
    latencies: list[float] = []
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench", headers=headers
    ) as client:
        queue = iter(range(requests))

        async def worker() -> None:
            for _ in queue:
                began = time.perf_counter()
                response = await client.post("/v1/models/bench/versions/1000000:predict", json=body)
                response.raise_for_status()
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - began, latencies


async def fire_pool(model, requests: int, concurrency: int) -> float:
    """The same load straight at the batcher: inference cost without HTTP/JSON."""
    import numpy as np

    x = np.full((1, 28, 28, 1), 0.5, dtype=np.float32)
    queue = iter(range(requests))

    async def worker() -> None:
        for _ in queue:
            await model.batcher.submit(x)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    from modelfleet.config import ServingPolicy
    from modelfleet.naming import Version
    from modelfleet.serving.app import create_app
    from modelfleet.serving.auth import Authenticator, Principal
    from modelfleet.serving.pool import ModelPool, load_version
    from modelfleet.settings import get_settings

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        export_untrained(root)
        results = {}
        for label, max_batch in (("one call per request", 1), ("dynamic batching", 64)):
            policy = ServingPolicy(max_batch_size=max_batch)
            model = load_version(root / "serving", "bench", Version.parse("v1.0.0"), policy)
            pool = ModelPool(root / "serving", {"bench": policy})
            pool.add(model, "production")
            auth = Authenticator(None)  # one static key: no registry, no database
            auth.add_static(KEY, Principal("bench", grants={"bench": "production"}))
            app = create_app(pool, get_settings(), database_url=None, auth=auth)
            asyncio.run(fire(app, 200, args.concurrency))  # warm up
            batches_before = model.batcher.batches_run
            elapsed, latencies = asyncio.run(fire(app, args.requests, args.concurrency))
            batches = model.batcher.batches_run - batches_before
            latencies.sort()
            results[label] = args.requests / elapsed
            pool_elapsed = asyncio.run(fire_pool(model, args.requests * 5, args.concurrency))
            results[label + " (no HTTP)"] = args.requests * 5 / pool_elapsed
            print(
                f"{label:22} {args.requests / elapsed:8.0f} req/s   "
                f"p50 {statistics.median(latencies) * 1000:6.1f} ms   "
                f"p99 {latencies[int(0.99 * len(latencies))] * 1000:6.1f} ms   "
                f"mean batch {args.requests / batches:5.1f}"
            )
        for suffix in ("", " (no HTTP)"):
            ratio = results["dynamic batching" + suffix] / results["one call per request" + suffix]
            print(
                f"throughput{suffix or ' over HTTP'}: "
                f"{results['one call per request' + suffix]:.0f} -> "
                f"{results['dynamic batching' + suffix]:.0f} req/s, batching / none = {ratio:.2f}x "
                f"at concurrency {args.concurrency}"
            )


if __name__ == "__main__":
    main()
