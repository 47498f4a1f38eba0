"""Server-side dynamic batching: concurrent requests share one inference call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np

InferFn = Callable[[np.ndarray], np.ndarray]


class Batcher:
    """Collects requests for up to `max_wait_s` or `max_batch` rows, runs them as one batch.

    Inference runs in a worker thread so the event loop keeps accepting requests.
    """

    def __init__(self, infer: InferFn, *, max_batch: int = 64, max_wait_s: float = 0.002) -> None:
        self._infer = infer
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: asyncio.Queue[tuple[np.ndarray, asyncio.Future[np.ndarray]]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.batches_run = 0

    async def submit(self, x: np.ndarray) -> np.ndarray:
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._run(self._queue))
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        await self._queue.put((x, future))
        return await future

    async def _run(
        self, queue: asyncio.Queue[tuple[np.ndarray, asyncio.Future[np.ndarray]]]
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await queue.get()]
            rows = len(items[0][0])
            deadline = loop.time() + self.max_wait_s
            while rows < self.max_batch:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    item = await asyncio.wait_for(queue.get(), timeout)
                except TimeoutError:
                    break
                items.append(item)
                rows += len(item[0])
            try:
                out = await asyncio.to_thread(self._infer, np.concatenate([x for x, _ in items]))
            except Exception as exc:  # one bad batch must not kill the worker
                for _, future in items:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches_run += 1
            offset = 0
            for x, future in items:
                if not future.done():
                    future.set_result(out[offset : offset + len(x)])
                offset += len(x)
