from __future__ import annotations

import asyncio

import numpy as np
import pytest

from modelfleet.serving.batching import Batcher


def test_concurrent_requests_share_one_inference_call():
    calls: list[int] = []

    def infer(batch: np.ndarray) -> np.ndarray:
        calls.append(len(batch))
        return batch * 2

    async def main() -> list[np.ndarray]:
        batcher = Batcher(infer, max_batch=64, max_wait_s=0.05)
        inputs = [np.full((1, 2), i, dtype=np.float32) for i in range(10)]
        return await asyncio.gather(*(batcher.submit(x) for x in inputs))

    results = asyncio.run(main())
    assert [float(r[0, 0]) for r in results] == [2.0 * i for i in range(10)]
    assert sum(calls) == 10
    assert len(calls) < 10  # batched, not one call per request


def test_a_failing_batch_fails_its_requests_and_the_batcher_survives():
    state = {"fail": True}

    def infer(batch: np.ndarray) -> np.ndarray:
        if state["fail"]:
            state["fail"] = False
            raise RuntimeError("boom")
        return batch

    async def main() -> np.ndarray:
        batcher = Batcher(infer, max_wait_s=0.001)
        with pytest.raises(RuntimeError, match="boom"):
            await batcher.submit(np.zeros((1, 1)))
        return await batcher.submit(np.ones((1, 1)))

    assert float(asyncio.run(main())[0, 0]) == 1.0
