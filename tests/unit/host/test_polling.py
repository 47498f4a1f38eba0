"""The followers' loop: failures back off and are logged, a success resets the pace."""

from __future__ import annotations

import logging

import pytest

from modelfleet.host import polling


class Stop(BaseException):
    """Ends the endless loop from the fake sleep (not an Exception: the loop lets it go)."""


def test_failing_ticks_back_off_to_the_cap_and_a_success_resets_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    outcomes = iter([True, False, False, False, False, True, True])
    pauses: list[float] = []

    def tick() -> None:
        if not next(outcomes):
            raise ConnectionError("database away")

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 7:
            raise Stop

    monkeypatch.setattr(polling.time, "sleep", sleep)
    with caplog.at_level(logging.ERROR), pytest.raises(Stop):
        polling.poll_forever(
            tick, 1.0, max_pause_s=5.0, log=logging.getLogger("t"), what="follower"
        )

    assert pauses == [1.0, 2.0, 4.0, 5.0, 5.0, 1.0, 1.0]
    assert [r.getMessage() for r in caplog.records][-1] == "follower: a tick failed (4 in a row)"
