"""The endpoint's shadow mirror (serving/shadow.py): what is mirrored, what is stored,
and that the client's answer never waits for the candidate. The pool is a small stand-in
(the boundary); the batchers are real."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np
import pytest

from modelfleet.errors import ModelNotFound
from modelfleet.serving.batching import Batcher
from modelfleet.serving.pool import LoadedModel
from modelfleet.serving.shadow import ShadowMirror

CLASSES = ["a", "b"]


def _model(version: str, infer: Any) -> LoadedModel:
    return LoadedModel(
        workflow="wf",
        version=version,
        version_int=1,
        classes=CLASSES,
        input_shape=(2, 1, 1),
        input_name="x",
        output_name="y",
        batcher=Batcher(infer, max_batch=8),
    )


def _first(x: np.ndarray) -> np.ndarray:  # "a" when the first pixel is large
    p = x.reshape(len(x), -1)[:, :1]
    return np.hstack([p, 1 - p]).astype(np.float32)


def _always_b(x: np.ndarray) -> np.ndarray:
    return np.tile(np.array([[0.1, 0.9]], dtype=np.float32), (len(x), 1))


class _Pool:
    def __init__(self, **aliases: LoadedModel) -> None:
        self.aliases = aliases

    def resolve(self, workflow: str, *, label: str = "production") -> LoadedModel:
        if label not in self.aliases:
            raise ModelNotFound(label)
        return self.aliases[label]


def _run(mirror: ShadowMirror, model: LoadedModel, batch: np.ndarray) -> np.ndarray:
    async def go() -> np.ndarray:
        probs = await model.batcher.submit(batch)
        mirror.mirror(model, batch, probs)
        await mirror.settle()
        return probs

    return asyncio.run(go())


def _pair(candidate_infer: Any, **settings: Any) -> tuple[LoadedModel, LoadedModel, ShadowMirror]:
    """Production (v1.0.0) and a candidate (v1.1.0), mirrored at fraction 1.0."""
    production, candidate = _model("v1.0.0", _first), _model("v1.1.0", candidate_infer)
    mirror = ShadowMirror(
        _Pool(production=production, candidate=candidate),  # type: ignore[arg-type]
        lambda rows: len(rows),
        lambda: {"wf": 1.0},
        **settings,
    )
    return production, candidate, mirror


BATCH = np.array([[[[0.9]], [[0.0]]], [[[0.2]], [[0.0]]]], dtype=np.float32)


def test_production_traffic_is_mirrored_and_both_labels_stored():
    production, candidate = _model("v1.0.0", _first), _model("v1.1.0", _always_b)
    written: list[Any] = []
    mirror = ShadowMirror(
        _Pool(production=production, candidate=candidate),  # type: ignore[arg-type]
        lambda rows: written.extend(rows) or len(rows),
        lambda: {"wf": 1.0},
    )
    probs = _run(mirror, production, BATCH)
    assert probs.argmax(axis=1).tolist() == [0, 1]  # production's answer, unchanged
    assert mirror.flush() == 2
    assert [(w[1], w[2], w[3], w[4]) for w in written] == [
        ("v1.0.0", "v1.1.0", "a", "b"),
        ("v1.0.0", "v1.1.0", "b", "b"),
    ]


@pytest.mark.parametrize("case", ["fraction 0", "no candidate", "not production", "same"])
def test_nothing_is_mirrored(case):
    production, candidate = _model("v1.0.0", _first), _model("v1.1.0", _always_b)
    aliases = {"production": production, "candidate": candidate}
    asked = production
    if case == "no candidate":
        del aliases["candidate"]
    if case == "same":
        aliases["candidate"] = production
    if case == "not production":
        asked = candidate  # a request for the candidate itself is not mirrored
    mirror = ShadowMirror(
        _Pool(**aliases),  # type: ignore[arg-type]
        lambda rows: len(rows),
        lambda: {"wf": 0.0 if case == "fraction 0" else 1.0},
    )
    _run(mirror, asked, BATCH)
    assert mirror.pending() == 0 and mirror.mirrored == 0


def test_the_client_does_not_wait_for_a_slow_candidate():
    release = threading.Event()

    def slow(x: np.ndarray) -> np.ndarray:
        release.wait(5)
        return _always_b(x)

    production, _, mirror = _pair(slow)

    async def go() -> tuple[bool, int]:
        probs = await production.batcher.submit(BATCH)
        mirror.mirror(production, BATCH, probs)  # returns at once: the rows are gathered
        await asyncio.sleep(mirror.gather_s * 2)  # sent to the candidate, which is stuck
        waiting = bool(mirror._tasks) and mirror.mirrored == 0
        release.set()
        await mirror.settle()
        return waiting, mirror.mirrored

    assert asyncio.run(go()) == (True, 2)


def test_a_failing_candidate_is_counted_not_raised():
    def broken(x: np.ndarray) -> np.ndarray:
        raise RuntimeError("boom")

    production, _, mirror = _pair(broken)
    _run(mirror, production, BATCH)
    assert mirror.failed == 2 and mirror.pending() == 0


def test_rows_of_many_requests_reach_the_candidate_as_one_batch():
    calls: list[int] = []

    def counted(x: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        return _always_b(x)

    production, _, mirror = _pair(counted, gather_s=0.05)

    async def go() -> None:
        for _ in range(3):  # three requests answered one by one (6 rows; max_batch 8)
            mirror.mirror(production, BATCH, await production.batcher.submit(BATCH))
        await asyncio.sleep(0.2)  # the gathering timer fires once
        await mirror.settle()

    asyncio.run(go())
    assert calls == [6] and mirror.mirrored == 6 and mirror.pending() == 6


def test_a_full_batch_goes_at_once_without_waiting_for_the_timer():
    production, candidate, mirror = _pair(_always_b, gather_s=3600)
    full = np.repeat(BATCH, candidate.batcher.max_batch // len(BATCH), axis=0)

    async def go() -> int:
        mirror.mirror(production, full, await production.batcher.submit(full))
        await asyncio.gather(*list(mirror._tasks))  # no settle(): the batch went by itself
        return mirror.mirrored

    assert asyncio.run(go()) == len(full)


def test_rows_answered_before_and_after_a_promotion_name_their_own_production():
    first, candidate = _model("v1.0.0", _first), _model("v1.2.0", _always_b)
    second = _model("v1.1.0", _first)
    pool = _Pool(production=first, candidate=candidate)
    written: list[Any] = []
    mirror = ShadowMirror(
        pool,  # type: ignore[arg-type]
        lambda rows: written.extend(rows) or len(rows),
        lambda: {"wf": 1.0},
        gather_s=3600,  # both within one gathering window
    )

    async def go() -> None:
        mirror.mirror(first, BATCH, await first.batcher.submit(BATCH))
        pool.aliases["production"] = second
        mirror.mirror(second, BATCH, await second.batcher.submit(BATCH))
        await mirror.settle()

    asyncio.run(go())
    mirror.flush()
    assert sorted(w[1] for w in written) == ["v1.0.0", "v1.0.0", "v1.1.0", "v1.1.0"]
