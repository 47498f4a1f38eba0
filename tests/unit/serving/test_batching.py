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


def test_batches_never_exceed_max_batch_and_the_overflow_starts_the_next():
    sizes: list[int] = []

    def infer(batch: np.ndarray) -> np.ndarray:
        sizes.append(len(batch))
        return batch

    async def main() -> list[np.ndarray]:
        batcher = Batcher(infer, max_batch=4, max_wait_s=0.05)
        inputs = [np.full((3, 1), i, dtype=np.float32) for i in range(3)]
        return await asyncio.gather(*(batcher.submit(x) for x in inputs))

    results = asyncio.run(main())
    assert [float(r[0, 0]) for r in results] == [0.0, 1.0, 2.0]
    assert sizes == [3, 3, 3]  # 3 + 3 > 4: each request is its own batch, none lost


def test_close_finishes_queued_requests_and_a_later_submit_still_works():
    async def main() -> tuple[np.ndarray, np.ndarray]:
        batcher = Batcher(lambda b: b + 1, max_wait_s=0.01)
        first = asyncio.ensure_future(batcher.submit(np.zeros((1, 1))))
        await asyncio.sleep(0)
        batcher.close()
        done = await first
        return done, await batcher.submit(np.ones((1, 1)))

    done, later = asyncio.run(main())
    assert float(done[0, 0]) == 1.0 and float(later[0, 0]) == 2.0
