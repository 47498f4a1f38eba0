"""JSON `:predict` parse + convert: CPU per request, before and after `nested_floats`.

Times exactly the per-request work of a `{"instances": [...]}` body of one image,
in-process, no HTTP: orjson.loads, the nested lists to a float32 batch (type and
shape checks, the NaN/Inf check), freeing the parsed body, and the answer's
orjson.dumps. "before" is the previous conversion (np.asarray on the nested lists,
then the shape check); "after" is PredictionService.tensor_rows as it is now.
Each path is timed in interleaved rounds by this thread's CPU time, so a busy
machine slows them alike; compare the ratio, read the best (min) round.

    .venv/bin/python bench/json_rows.py [--shapes 32x32x3,28x28x1] [--rounds 60]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Coroutine
from types import SimpleNamespace
from typing import Any

import numpy as np
import orjson

from modelfleet.serving.service import PredictionService

MODEL_VERSION = "v1.0.0"


def body(shape: tuple[int, ...], values: str) -> bytes:
    """One instance as bench/serving.py sends it (constant 0.5), or random [0, 1) pixels."""
    if values == "const":
        image = np.full((1, *shape), 0.5, dtype=np.float32)
    else:
        image = np.random.default_rng(0).random((1, *shape), dtype=np.float32)
    return json.dumps({"instances": image.tolist()}).encode()


def finish(coroutine: Coroutine[Any, Any, np.ndarray]) -> np.ndarray:
    """Run a coroutine that never suspends (tensor_rows on plain tensors) without a loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise RuntimeError("the coroutine awaited something")


def before(rows: list[Any], shape: tuple[int, ...]) -> np.ndarray:
    """The previous fast path of tensor_rows."""
    batch = np.asarray(rows, dtype=np.float32)
    if batch.shape[1:] != shape or not np.isfinite(batch).all():
        raise ValueError("the benchmark body is no batch of finite images")
    return batch


def paths(data: bytes, shape: tuple[int, ...]) -> dict[str, Callable[[], object]]:
    service = PredictionService(pool=None)  # type: ignore[arg-type]  # tensor_rows needs none
    model: Any = SimpleNamespace(input_shape=shape, input_name="image")
    rows = orjson.loads(data)["instances"]
    assert np.array_equal(before(rows, shape), finish(service.tensor_rows(model, rows, "x")))
    probs = np.full((1, 10), 0.1, dtype=np.float32)

    def request_before() -> object:
        return before(orjson.loads(data)["instances"], shape)

    def request_after() -> object:
        return finish(service.tensor_rows(model, orjson.loads(data)["instances"], "instances"))

    return {
        "orjson.loads only": lambda: orjson.loads(data),
        "convert before (np.asarray)": lambda: before(rows, shape),
        "convert after (tensor_rows)": lambda: finish(service.tensor_rows(model, rows, "x")),
        "request before: loads+convert+free": request_before,
        "request after:  loads+convert+free": request_after,
        "answer: orjson.dumps": lambda: orjson.dumps(
            {"predictions": probs.round(6), "model_version": MODEL_VERSION},
            option=orjson.OPT_SERIALIZE_NUMPY,
        ),
    }


def measure(
    fns: dict[str, Callable[[], object]], rounds: int, number: int = 10
) -> dict[str, list[float]]:
    """µs per call of each function, one list entry per round; rounds interleave."""
    out: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            began = time.thread_time()
            for _ in range(number):
                fn()
            out[name].append((time.thread_time() - began) / number * 1e6)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--shapes", default="32x32x3,28x28x1")
    parser.add_argument("--values", default="const,random")
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    for text in args.shapes.split(","):
        shape = tuple(int(d) for d in text.split("x"))
        for values in args.values.split(","):
            data = body(shape, values)
            times = measure(paths(data, shape), args.rounds)
            print(f"\n{text}, {values} values, {len(data):,} byte body: µs per request")
            print(f"  {'':38} {'min':>7} {'median':>7}")
            for name, samples in times.items():
                print(f"  {name:38} {min(samples):7.1f} {float(np.median(samples)):7.1f}")
            best = {name: min(samples) for name, samples in times.items()}
            request = (
                best["request after:  loads+convert+free"]
                / best["request before: loads+convert+free"]
            )
            convert = best["convert after (tensor_rows)"] / best["convert before (np.asarray)"]
            print(f"  after/before (min): request {request:.2f}, conversion {convert:.2f}")


if __name__ == "__main__":
    main()
