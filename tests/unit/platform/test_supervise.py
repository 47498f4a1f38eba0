"""The supervisor never gives up on a crashing worker: it restarts it with exponential
backoff capped at 60 s, keeps the crash count and the last error in `run/<service>
.state.json`, and `modelfleet status` shows `restarting (N crashes, last: ...)`.

Real spawned worker processes crash for real; only time is faked: the supervisor's
`clock` and `sleep` are a fake clock that a wait advances at once, so a 60 s backoff
passes in milliseconds and every assertion is about the fake clock, never the wall.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from modelfleet.cli import main
from modelfleet.errors import PlatformError
from modelfleet.host.processes import ProcessManager
from modelfleet.host.supervise import (
    POLL_S,
    Backoff,
    SupervisorState,
    read_state,
    state_file,
    supervise,
)
from modelfleet.platform.up import CRASHES_BEFORE_GIVING_UP_WAITING, wait_until
from tests.unit.platform.crashing_workers import crash_at_once, crash_twice_then_run

SAFETY_S = 180  # real seconds after which a broken supervisor is stopped (not an assertion)


class FakeTime:
    """The supervisor's clock: `sleep(s)` moves it on by `s` at once, unless the test
    holds it (`runs`: a worker is starting up in real time, which must not count as time
    it stayed up). `on_tick` sees every wait, before the clock moves on."""

    def __init__(
        self, on_tick: Callable[[FakeTime], None], runs: Callable[[], bool] = lambda: True
    ) -> None:
        self.now = 1000.0
        self.on_tick = on_tick
        self.runs = runs
        self.began = time.monotonic()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        if time.monotonic() - self.began > SAFETY_S:
            stop_supervisor()
            pytest.fail("the supervisor did not reach the expected state")
        self.on_tick(self)
        if self.runs():
            self.now += seconds
        time.sleep(0.002)  # let the workers run


def stop_supervisor() -> None:
    """SIGTERM to this process: the supervisor (running in this test) stops its workers."""
    os.kill(os.getpid(), signal.SIGTERM)


@pytest.fixture()
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MODELFLEET_HOME", str(tmp_path))
    monkeypatch.delenv("MODELFLEET_EXECUTOR", raising=False)
    monkeypatch.delenv("MODELFLEET_WARM_RUNNER", raising=False)
    return tmp_path / "run"


def test_backoff_doubles_from_one_second_and_caps_at_sixty() -> None:
    backoff = Backoff()
    assert [backoff.delay_s(n) for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert backoff.delay_s(10_000) == 60  # no overflow after days of crashing


def test_a_worker_that_always_crashes_is_restarted_with_growing_capped_backoff(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crashes_wanted = 9  # per worker: past the cap, and past where the old supervisor quit
    starts: dict[int, list[float]] = {0: [], 1: []}
    crashes: dict[int, list[tuple[float, int, float]]] = {0: [], 1: []}
    seen: list[SupervisorState] = []
    status_lines: list[str] = []
    status_crashes: list[int] = []
    # `modelfleet status` finds the ingest service running under this process's pid.
    run_dir.mkdir(parents=True)
    (run_dir / "ingest.pid").write_text(str(os.getpid()))

    def args_of(index: int) -> tuple[int]:  # called as each worker starts
        starts[index].append(fake.now)
        return (index,)

    def on_tick(fake: FakeTime) -> None:
        state = read_state(run_dir, "ingest")
        assert state is not None and state.pid == os.getpid()
        for failing in state.failing:
            history = crashes[failing.worker]
            if not history or history[-1][1] != failing.crashes_in_a_row:
                # the supervisor writes the state in the tick that noticed the crash
                history.append((fake.now, failing.crashes_in_a_row, failing.backoff_s))
        if not seen or seen[-1].crashes != state.crashes:
            seen.append(state)
        if state.crashes >= 5 and not status_lines:
            capsys.readouterr()
            assert main(["status"]) == 0
            status_lines.extend(capsys.readouterr().out.splitlines())
            status_crashes.append(state.crashes)
        if all(len(h) >= crashes_wanted for h in crashes.values()):
            stop_supervisor()

    fake = FakeTime(on_tick)
    supervise(
        "ingest",
        crash_at_once,
        args_of,
        2,
        backoff=Backoff(healthy_s=float("inf")),
        run_dir=run_dir,
        clock=fake.clock,
        sleep=fake.sleep,
    )

    expected = [1, 2, 4, 8, 16, 32, 60, 60, 60]
    for index in (0, 1):
        history = crashes[index][:crashes_wanted]
        assert [n for _, n, _ in history] == list(range(1, crashes_wanted + 1))
        assert [b for _, _, b in history] == expected  # what the state file says
        # ... and what the supervisor did: each restart came that long after the crash
        waits = [
            start - crashed
            for (crashed, _, _), start in zip(history, starts[index][1:], strict=False)
        ]
        assert len(waits) >= crashes_wanted - 1
        for wait, backoff in zip(waits, expected, strict=False):
            assert backoff - 1e-6 <= wait <= backoff + POLL_S + 1e-6
    last = seen[-1]
    assert last.crashes >= 2 * crashes_wanted and last.restarting
    # exit code plus the exception's last line, control characters escaped
    assert last.last_error is not None
    assert last.last_error.startswith("exit 1: ValueError: bad entry in shard ")
    assert "\\x0a2026-01-01 00:00:00 INFO stored" in last.last_error
    assert "\n" not in last.last_error
    ingest = [line for line in status_lines if line.startswith("ingest ")]
    assert len(ingest) == 1, status_lines
    assert (
        ingest[0]
        .split(None, 1)[1]
        .startswith(
            f"restarting ({status_crashes[0]} crashes, last: exit 1: ValueError: bad entry in shard "
        )
    )
    assert "endpoint" in "\n".join(status_lines)  # the other services are listed as before
    assert not state_file(run_dir, "ingest").exists()  # a stopped supervisor leaves none
    assert sorted(p.name for p in run_dir.iterdir()) == ["ingest.pid"]  # nor error files


def test_a_worker_that_recovers_counts_as_running_again(run_dir: Path, tmp_path: Path) -> None:
    seen: list[SupervisorState] = []
    started: list[float] = []

    def args_of(index: int) -> tuple[int, str]:
        started.append(fake.now)
        return (index, str(tmp_path))

    def runs() -> bool:
        """Time passes while the worker waits for its restart, or once its third start
        (the one that stays up) is running; not while a start is on its way to crash."""
        state = read_state(run_dir, "endpoint")
        if len(started) == (state.crashes if state else 0):
            return True
        starts = tmp_path / "starts-0"
        return starts.exists() and len(starts.read_text()) >= 3

    def on_tick(fake: FakeTime) -> None:
        state = read_state(run_dir, "endpoint")
        assert state is not None
        if not seen or (seen[-1].crashes, seen[-1].restarting) != (
            state.crashes,
            state.restarting,
        ):
            seen.append(state)
        if state.crashes == 2 and not state.restarting:
            stop_supervisor()

    fake = FakeTime(on_tick, runs)
    supervise(
        "endpoint",
        crash_twice_then_run,
        args_of,
        1,
        backoff=Backoff(healthy_s=5.0),
        run_dir=run_dir,
        clock=fake.clock,
        sleep=fake.sleep,
    )

    errors = [s.last_error for s in seen if s.last_error]
    assert errors[0] == "exit 1: RuntimeError: database is starting up"
    assert errors[-1] == "killed by SIGKILL"
    assert [(s.crashes, s.summary().split(" (")[0]) for s in seen] == [
        (0, "running"),
        (1, "restarting"),
        (2, "restarting"),
        (2, "running"),  # up for healthy_s: no longer restarting; the count stays
    ]
    assert (tmp_path / "starts-0").read_text() == "xxx"  # started three times, no more


def test_status_ignores_a_state_file_left_by_an_earlier_supervisor(run_dir: Path) -> None:
    from modelfleet.platform.up import status
    from modelfleet.settings import get_settings

    run_dir.mkdir(parents=True)
    (run_dir / "ingest.pid").write_text(str(os.getpid()))
    earlier = SupervisorState("ingest", pid=os.getpid() + 1, workers=2, crashes=3)
    earlier.last_error = "exit 1"
    state_file(run_dir, "ingest").write_text(json.dumps(earlier.__dict__ | {"failing": []}))

    assert status(get_settings())["ingest"] == "running"


def test_up_stops_waiting_for_a_service_that_keeps_crashing(run_dir: Path) -> None:
    run_dir.mkdir(parents=True)
    (run_dir / "endpoint.pid").write_text(str(os.getpid()))
    state = {
        "service": "endpoint",
        "pid": os.getpid(),
        "workers": 2,
        "crashes": CRASHES_BEFORE_GIVING_UP_WAITING,
        "last_error": "exit 1: PlatformError: cannot listen on 127.0.0.1:8501",
        "last_crash_at": None,
        "failing": [{"worker": 0, "crashes_in_a_row": 3, "backoff_s": 4.0}],
    }
    state_file(run_dir, "endpoint").write_text(json.dumps(state))

    with pytest.raises(PlatformError, match=r"is restarting \(3 crashes, last: exit 1: Platf"):
        wait_until("prediction endpoint", lambda: False, ProcessManager(run_dir), "endpoint")
