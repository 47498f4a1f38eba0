"""Compute limit (a): images/s of the compiled serving function alone.

No HTTP, no JSON, no batcher: just the SavedModel's `serve` signature on full
batches. No server of this model can beat this number on this machine, so it is the
ceiling the serving benchmarks are read against.

    .venv/bin/python bench/compute_limit.py --kind lenet [--batch 64] [--seconds 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from models import KINDS, bench_kind, export_bench_model, load_infer


def images_per_second(
    infer: Callable[[np.ndarray], np.ndarray],
    input_shape: Sequence[int],
    batch: int = 64,
    seconds: float = 5,
) -> float:
    """Call `infer` on constant batches of `batch` images for about `seconds`; images/s.

    Warms first (tracing, thread pools, allocator) so the timed loop is steady state.
    """
    x = np.full((batch, *input_shape), 0.5, dtype=np.float32)
    warm_until = time.perf_counter() + min(1.0, seconds / 5)
    infer(x)
    while time.perf_counter() < warm_until:
        infer(x)
    calls = 0
    began = time.perf_counter()
    deadline = began + seconds
    while True:
        infer(x)
        calls += 1
        now = time.perf_counter()
        if now >= deadline:
            return calls * batch / (now - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--kind", default="lenet", choices=sorted(KINDS))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = export_bench_model(args.kind, Path(tmp))
        rate = images_per_second(
            load_infer(path), bench_kind(args.kind).input_shape, args.batch, args.seconds
        )
    print(f"{args.kind}: {rate:,.0f} images/s (batch {args.batch}, {args.seconds:g} s)")


if __name__ == "__main__":
    main()
