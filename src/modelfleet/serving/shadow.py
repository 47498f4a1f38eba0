"""Shadow release: a mirrored copy of `release.shadow_fraction` of production traffic goes
to the workflow's `candidate`, in the background; its answers are stored beside
production's (`shadow_answer`), never returned.

How the endpoint knows: the candidate is the `candidate` alias the pool already follows
from Postgres (registry_watcher); the fraction is the workflow's release policy in
workflows.yaml, read again every `refresh_s` like monitor.sample_rate. A request is
mirrored when it was answered by the production version, a candidate other than
production is loaded, and both take the same input (shape and preprocessing): the
candidate gets exactly the tensor production got.

The request path only samples rows and schedules a task after production answered;
the client's answer is already computed and is never changed or delayed by the
candidate's. Answers are written by a thread in batches; a full queue drops the oldest,
and at most `max_in_flight` mirrored batches wait for the candidate at once (beyond
that a mirror is dropped, not queued).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Unpack

import numpy as np

from modelfleet.errors import ModelNotFound, ModelNotReady
from modelfleet.naming import CANDIDATE, PRODUCTION
from modelfleet.serving.background_writer import BackgroundWriter, WriterSettings
from modelfleet.serving.pool import LoadedModel, ModelPool

log = logging.getLogger("modelfleet.serving.shadow")

# (workflow, production version, candidate version, production label, candidate label, at)
Entry = tuple[str, str, str, str, str, datetime]
Writer = Callable[[list[Entry]], int]


class ShadowMirror(BackgroundWriter[Entry]):
    thread_name = "shadow-writer"
    what = "shadow answers"
    setting = "release.shadow_fraction"

    def __init__(
        self,
        pool: ModelPool,
        writer: Writer,
        fractions: Callable[[], dict[str, float]],
        *,
        max_in_flight: int = 64,
        **settings: Unpack[WriterSettings],
    ) -> None:
        super().__init__(fractions, **settings)
        self.pool = pool
        self._writer = writer
        self.max_in_flight = max_in_flight
        self._queue: deque[Entry] = deque(maxlen=self.capacity)  # full: the oldest go
        self._tasks: set[asyncio.Task[None]] = set()
        self.mirrored = 0
        self.failed = 0
        self.refresh()

    # -- request path (event loop): no I/O, no waiting --

    def fraction(self, workflow: str) -> float:
        return self._shares.get(workflow, 0.0)

    def mirror(self, model: LoadedModel, batch: np.ndarray, probs: np.ndarray) -> None:
        """After production answered `batch` with `probs`: mirror a sample of its rows to
        the candidate, if this is production and a different candidate is loaded."""
        fraction = self.fraction(model.workflow)
        if fraction <= 0:
            return
        try:
            production = self.pool.resolve(model.workflow, label=PRODUCTION)
            candidate = self.pool.resolve(model.workflow, label=CANDIDATE)
        except (ModelNotFound, ModelNotReady):
            return
        if model is not production or candidate is production:
            return
        if candidate.input_shape != model.input_shape or candidate.preprocess != model.preprocess:
            return  # a new interface: the candidate could not take production's tensor
        if fraction < 1:
            keep = self._random.random(len(batch)) < fraction
            if not keep.any():
                return
            batch, probs = batch[keep], probs[keep]
        if len(self._tasks) >= self.max_in_flight:
            self.dropped += len(batch)
            return
        labels = [model.classes[i] for i in probs.argmax(axis=1).tolist()]
        task = asyncio.get_running_loop().create_task(
            self._answer(production, candidate, batch, labels, datetime.now(UTC))
        )
        self._tasks.add(task)  # a strong reference until it is done
        task.add_done_callback(self._tasks.discard)

    async def _answer(
        self,
        production: LoadedModel,
        candidate: LoadedModel,
        batch: np.ndarray,
        labels: list[str],
        at: datetime,
    ) -> None:
        try:
            out = await candidate.batcher.submit(batch)
        except Exception as exc:  # the candidate's failure is never the client's
            self.failed += len(batch)
            log.warning("shadow: candidate %s failed: %s", candidate.version, exc)
            return
        best = out[:, : len(candidate.classes)].argmax(axis=1).tolist()
        self._queue.extend(
            (
                production.workflow,
                production.version,
                candidate.version,
                label,
                candidate.classes[b],
                at,
            )
            for label, b in zip(labels, best, strict=True)
        )
        self.mirrored += len(batch)
        if len(self._queue) >= self.flush_rows:
            self._wake.set()

    def pending(self) -> int:
        return len(self._queue)

    # -- writer thread --

    def _take(self) -> list[Entry]:
        return [self._queue.popleft() for _ in range(min(self.flush_rows, len(self._queue)))]

    def _write(self, batch: list[Entry]) -> int:
        return self._writer(batch)

    def _requeue(self, batch: list[Entry]) -> None:
        self._queue.extendleft(reversed(batch))
