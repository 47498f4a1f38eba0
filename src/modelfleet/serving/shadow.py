"""Shadow release: a mirrored copy of `release.shadow_fraction` of production traffic goes
to the workflow's `candidate`, in the background; its answers are stored beside
production's (`shadow_answer`), never returned.

How the endpoint knows: the candidate is the `candidate` alias the pool already follows
from Postgres (registry_watcher); the fraction is the workflow's release policy in
workflows.yaml, read again every `refresh_s` like monitor.sample_rate. A request is
mirrored when it was answered by the production version, a candidate other than
production is loaded, and both take the same input (shape and preprocessing): the
candidate gets exactly the tensor production got.

The request path only samples rows after production answered and gathers them; the
client's answer is already computed and is never changed or delayed by the candidate's.
Gathered rows go to the candidate as one batch `gather_s` after the first of them (or
once a full batch is gathered): the candidate's answers are not urgent, and one call for
many requests' rows costs the cores that production's clients share far less than a
call per production batch. Answers are written by a thread in batches; a full queue
drops the oldest, and at most `max_in_flight` gathered batches wait for the candidate at
once (beyond that a batch is dropped, not queued).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
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


@dataclass
class _Gathered:
    """Mirrored rows waiting to go to one candidate as one batch."""

    production: LoadedModel
    candidate: LoadedModel
    batches: list[np.ndarray] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # production's, a row each
    at: list[datetime] = field(default_factory=list)  # when production answered, a row each

    @property
    def key(self) -> tuple[int, int]:
        """A promotion (another production) starts another batch."""
        return id(self.production), id(self.candidate)


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
        gather_s: float = 0.02,
        **settings: Unpack[WriterSettings],
    ) -> None:
        super().__init__(fractions, **settings)
        self.pool = pool
        self._writer = writer
        self.max_in_flight = max_in_flight
        self.gather_s = gather_s
        self._gathered: dict[tuple[int, int], _Gathered] = {}
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
        gathered = self._gathered.get((id(production), id(candidate)))
        if gathered is None:
            gathered = _Gathered(production, candidate)
            self._gathered[gathered.key] = gathered
            asyncio.get_running_loop().call_later(self.gather_s, self._send, gathered)
        gathered.batches.append(batch)
        gathered.labels.extend(model.classes[i] for i in probs.argmax(axis=1).tolist())
        gathered.at.extend([datetime.now(UTC)] * len(batch))
        if len(gathered.labels) >= candidate.batcher.max_batch:
            self._send(gathered)

    def _send(self, gathered: _Gathered) -> None:
        """Hand gathered rows to the candidate (once: a later timer finds them gone)."""
        if self._gathered.get(gathered.key) is not gathered:
            return
        del self._gathered[gathered.key]
        if len(self._tasks) >= self.max_in_flight:
            self.dropped += len(gathered.labels)
            return
        task = asyncio.get_running_loop().create_task(self._answer(gathered))
        self._tasks.add(task)  # a strong reference until it is done
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Send what is gathered now and wait for the candidates' answers (tests, stop)."""
        for gathered in list(self._gathered.values()):
            self._send(gathered)
        await asyncio.gather(*list(self._tasks))

    async def _answer(self, gathered: _Gathered) -> None:
        production, candidate = gathered.production, gathered.candidate
        batch = np.concatenate(gathered.batches)
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
            for label, b, at in zip(gathered.labels, best, gathered.at, strict=True)
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
