"""Run N copies of a worker process until SIGTERM or Ctrl-C (the endpoint's and the
stream classifier's `--workers`).

Workers are spawned, not forked (TensorFlow's thread pools do not survive a fork).

A worker that dies, for whatever reason, is started again: the supervisor never gives
up, since a crash that repeats (one bad input, a database outage) must not stop the
service for good while nobody watches. Restarts back off per worker, 1 s, 2 s, 4 s, ...
capped at 60 s, and a worker that then stays up for a minute starts again from 1 s.
The crash count and the last error are kept in `run/<service>.state.json`, which
`modelfleet status` shows as `restarting (N crashes, last: ...)`. A worker that raises
writes the last line of its exception to `run/<service>-<index>.error` on its way out,
so the last error names the cause as well as the exit code.

On SIGTERM every worker gets SIGTERM and `stop_s` to finish what it holds, then
SIGKILL; if the supervisor itself is killed, its workers get SIGTERM from the kernel.
"""

from __future__ import annotations

import ctypes
import json
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import Any

from modelfleet.host import quiet
from modelfleet.printable import printable
from modelfleet.settings import get_settings

log = logging.getLogger("modelfleet.platform")
POLL_S = 0.2  # how often the supervisor looks at its workers
MAX_ERROR = 300  # characters of a worker's last error kept in the state file
_PR_SET_PDEATHSIG = 1  # <sys/prctl.h>


@dataclass(frozen=True)
class Backoff:
    """When to restart a worker that keeps crashing."""

    first_s: float = 1.0
    cap_s: float = 60.0
    healthy_s: float = 60.0  # up this long, a worker's next crash counts as its first

    def delay_s(self, in_a_row: int) -> float:
        """The wait before restarting after crash number `in_a_row` (1, 2, ...)."""
        return min(self.cap_s, self.first_s * 2.0 ** min(in_a_row - 1, 64))


@dataclass
class FailingWorker:
    worker: int
    crashes_in_a_row: int
    backoff_s: float


@dataclass
class SupervisorState:
    """What `run/<service>.state.json` holds (written by the supervisor, read by status)."""

    service: str
    pid: int  # the supervisor's: a state file of an earlier run is recognised as stale
    workers: int
    crashes: int = 0
    last_error: str | None = None
    last_crash_at: str | None = None
    failing: list[FailingWorker] = field(default_factory=list)

    @property
    def restarting(self) -> bool:
        """Some worker crashed and has not stayed up for `healthy_s` since."""
        return bool(self.failing)

    def summary(self) -> str:
        """`restarting (N crashes, last: ...)` while restarting, else `running`."""
        if not self.restarting:
            return "running"
        return f"restarting ({self.crashes} crashes, last: {self.last_error})"


def state_file(run_dir: Path, service: str) -> Path:
    return run_dir / f"{service}.state.json"


def read_state(run_dir: Path, service: str) -> SupervisorState | None:
    """The supervisor's last written state, or None if there is none or it is unreadable."""
    try:
        doc = json.loads(state_file(run_dir, service).read_text())
        failing = [FailingWorker(**item) for item in doc.pop("failing", [])]
        return SupervisorState(**doc, failing=failing)
    except (OSError, ValueError, TypeError):
        return None


def supervise(
    name: str,
    target: Callable[..., None],
    args_of: Callable[[int], tuple[Any, ...]],
    workers: int,
    *,
    stop_s: float = 20.0,
    backoff: Backoff = Backoff(),
    run_dir: Path | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Run `target(*args_of(i))` in `workers` processes (blocking); `name` is the
    service (logs, state file). `clock` and `sleep` are seams for tests."""
    run_dir = get_settings().run_dir if run_dir is None else run_dir
    with suppress(OSError):  # workers write their last error there
        run_dir.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        log.info("signal %d: stopping %d %s workers", signum, workers, name)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    parent = os.getpid()
    state = _StateWriter(run_dir, SupervisorState(name, parent, workers))
    slots = [_Slot(index, _error_file(run_dir, name, index)) for index in range(workers)]

    def start(slot: _Slot) -> None:
        with suppress(OSError):  # an unwritable run/ costs the last error's text, no more
            slot.error_file.unlink(missing_ok=True)
        slot.process = context.Process(
            target=_child,
            args=(parent, target, args_of(slot.index), str(slot.error_file)),
            name=f"{name}-{slot.index}",
        )
        slot.process.start()
        slot.started_at, slot.restart_at = clock(), None

    try:
        for slot in slots:
            start(slot)
        pids = ", ".join(str(slot.process.pid) for slot in slots if slot.process)
        log.info("%d %s workers: pids %s", workers, name, pids)
        state.write(slots, backoff)
        while not stopping:
            due = [s.restart_at for s in slots if s.restart_at is not None]
            sleep(max(0.0, min([POLL_S, *(at - clock() for at in due)])))
            changed = False
            for slot in slots:
                if stopping:
                    break
                changed |= _tend(slot, name, backoff, clock(), state, start)
            if changed:
                state.write(slots, backoff)
    finally:
        for slot in slots:
            if slot.process is not None and slot.process.is_alive():
                slot.process.terminate()
        deadline = time.monotonic() + stop_s
        for slot in slots:
            if slot.process is None:
                continue
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        state.remove()
        for slot in slots:
            with suppress(OSError):
                slot.error_file.unlink(missing_ok=True)


@dataclass
class _Slot:
    """One worker position: its current process, or when it is to be started again."""

    index: int
    error_file: Path
    process: BaseProcess | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    in_a_row: int = 0  # crashes since it last stayed up for healthy_s


def _tend(
    slot: _Slot,
    name: str,
    backoff: Backoff,
    now: float,
    state: _StateWriter,
    start: Callable[[_Slot], None],
) -> bool:
    """Look after one worker: note a crash, restart when due. Returns whether the
    state changed."""
    process = slot.process
    if process is not None and process.is_alive():
        if slot.in_a_row and now - slot.started_at >= backoff.healthy_s:
            log.info(
                "%s worker %d has stayed up; its next crash counts as a first", name, slot.index
            )
            slot.in_a_row = 0
            return True
        return False
    if process is not None:
        lived = now - slot.started_at
        slot.in_a_row = 1 if lived >= backoff.healthy_s else slot.in_a_row + 1
        error = _last_error(process, slot.error_file)
        process.close()  # its sentinel fd: a worker crashing for days must not leak them
        delay = backoff.delay_s(slot.in_a_row)
        slot.process, slot.restart_at = None, now + delay
        state.crashed(error)
        log.error(
            "%s worker %d ended after %.1f s (%s); crash %d in a row, restarting in %.1f s",
            name,
            slot.index,
            lived,
            error,
            slot.in_a_row,
            delay,
        )
        return True
    if slot.restart_at is not None and now >= slot.restart_at:
        try:
            start(slot)
        except OSError as exc:  # no memory or processes left for now: a crash like any
            slot.in_a_row += 1
            slot.restart_at = now + backoff.delay_s(slot.in_a_row)
            state.crashed(_one_line(f"could not start: {exc}"))
            log.error("%s worker %d could not start: %s", name, slot.index, exc)
            return True
        pid = slot.process.pid if slot.process else None
        log.info("%s worker %d restarted: pid %s", name, slot.index, pid)
        return True
    return False


class _StateWriter:
    """Keeps `run/<service>.state.json` current. Best effort: a state file that cannot
    be written is logged, never a reason to stop supervising."""

    def __init__(self, run_dir: Path, state: SupervisorState) -> None:
        self.path = state_file(run_dir, state.service)
        self.state = state
        self._warned = False

    def crashed(self, error: str) -> None:
        self.state.crashes += 1
        self.state.last_error = error
        self.state.last_crash_at = datetime.now(UTC).isoformat(timespec="seconds")

    def write(self, slots: list[_Slot], backoff: Backoff) -> None:
        self.state.failing = [
            FailingWorker(s.index, s.in_a_row, backoff.delay_s(s.in_a_row))
            for s in slots
            if s.in_a_row
        ]
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(asdict(self.state), indent=1))
            os.replace(tmp, self.path)
        except OSError as exc:
            if not self._warned:
                log.warning("cannot write %s: %s; supervising on without it", self.path, exc)
                self._warned = True

    def remove(self) -> None:
        with suppress(OSError):
            self.path.unlink(missing_ok=True)


def _error_file(run_dir: Path, service: str, index: int) -> Path:
    return run_dir / f"{service}-{index}.error"


def _last_error(process: BaseProcess, error_file: Path) -> str:
    """How a worker ended: its exit code or signal, and its exception's last line."""
    process.join(1.0)  # reap it, so the exit code is known
    code = process.exitcode
    if code is None:
        how = "ended"
    elif code < 0:
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
    else:
        how = f"exit {code}"
    try:
        with error_file.open("rb") as file:
            summary = file.read(MAX_ERROR * 4).decode(errors="replace").strip()
    except OSError:
        summary = ""
    return _one_line(f"{how}: {summary}" if summary else how)


def _one_line(text: str) -> str:
    """Control characters escaped (an exception may quote a hostile file name), bounded."""
    escaped = printable(text)
    return escaped if len(escaped) <= MAX_ERROR else escaped[: MAX_ERROR - 1] + "…"


def _child(
    parent: int, target: Callable[..., None], args: tuple[Any, ...], error_file: str
) -> None:
    # Ctrl-C reaches the whole process group: let the supervisor turn it into SIGTERM,
    # the graceful path, rather than interrupt each worker mid-step.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with(parent)
    quiet.install()  # a spawned worker starts afresh: no hook of the parent's
    try:
        target(*args)
    except SystemExit as exc:
        if exc.code not in (0, None):
            _write_summary(error_file, exc)
        raise
    except BaseException as exc:
        _write_summary(error_file, exc)
        raise  # the traceback still goes to the log


def _write_summary(error_file: str, exc: BaseException) -> None:
    """The exception's last line (`Type: message`) for the supervisor to read."""
    message = str(exc)
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    with suppress(OSError):
        Path(error_file).write_text(_one_line(text))


def die_with(parent: int) -> None:
    """SIGTERM this process when `parent` dies, even by SIGKILL (Linux): no worker
    outlives its supervisor holding the port or landing files, no warm-runner command
    its runner."""
    with suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
