"""Server-side dynamic batching: concurrent requests share one inference call.

After TF Serving's batching parameters: a batch runs as soon as it holds
`max_batch` rows, or when its first request has waited `max_wait_s`. Requests
already queued join at once, so under load batches fill without waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np

InferFn = Callable[[np.ndarray], np.ndarray]
_Item = tuple[np.ndarray, "asyncio.Future[np.ndarray]"]
_CLOSE = None  # queue sentinel: the worker ends after the batches before it


class Batcher:
    """Collects requests for one (model, version) and runs them as one batch.

    Inference runs in a worker thread, so the event loop keeps accepting requests
    while a batch computes, and the next batch fills meanwhile.
    """

    def __init__(
        self,
        infer: InferFn,
        *,
        max_batch: int = 64,
        max_wait_s: float = 0.001,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._infer = infer
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._on_batch = on_batch
        self._queue: asyncio.Queue[_Item | None] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.batches_run = 0

    async def submit(self, x: np.ndarray) -> np.ndarray:
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._run(self._queue))
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((x, future))
        return await future

    def close(self) -> None:
        """Let the worker finish what is queued, then end (the model was unloaded).
        Safe from any thread; a later submit starts a new worker."""
        queue, worker = self._queue, self._worker
        if queue is not None and worker is not None and not worker.done():
            worker.get_loop().call_soon_threadsafe(queue.put_nowait, _CLOSE)

    async def _run(self, queue: asyncio.Queue[_Item | None]) -> None:
        loop = asyncio.get_running_loop()
        carry: _Item | None = None
        while True:
            first = carry if carry is not None else await queue.get()
            carry = None
            if first is _CLOSE:
                return
            items, rows = [first], len(first[0])
            deadline = loop.time() + self.max_wait_s
            closing = False
            while rows < self.max_batch:
                try:
                    item = queue.get_nowait()
                except asyncio.QueueEmpty:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        item = await asyncio.wait_for(queue.get(), remaining)
                    except TimeoutError:
                        break
                if item is _CLOSE:
                    closing = True
                    break
                if rows + len(item[0]) > self.max_batch:
                    carry = item  # first of the next batch
                    break
                items.append(item)
                rows += len(item[0])
            await self._run_batch(items, rows)
            if closing:
                return

    async def _run_batch(self, items: list[_Item], rows: int) -> None:
        try:
            batch = items[0][0] if len(items) == 1 else np.concatenate([x for x, _ in items])
            out = await asyncio.to_thread(self._infer, batch)
        except Exception as exc:  # one bad batch must not kill the worker
            for _, future in items:
                if not future.done():
                    future.set_exception(exc)
            return
        self.batches_run += 1
        if self._on_batch is not None:
            self._on_batch(rows)
        offset = 0
        for x, future in items:
            if not future.done():
                future.set_result(out[offset : offset + len(x)])
            offset += len(x)
