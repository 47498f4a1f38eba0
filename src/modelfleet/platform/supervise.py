"""Run N copies of a worker process until SIGTERM or Ctrl-C (the endpoint's and the
stream classifier's `--workers`).

Workers are spawned, not forked (TensorFlow's thread pools do not survive a fork). A
worker that dies after its first minute is replaced; one that dies sooner stops them
all, since the next would die the same way. On SIGTERM every worker gets SIGTERM and
`stop_s` to finish what it holds, then SIGKILL; if the supervisor itself is killed,
its workers get SIGTERM from the kernel.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from contextlib import suppress
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

from modelfleet.errors import PlatformError

log = logging.getLogger("modelfleet.platform")
STARTUP_S = 60.0  # a worker that dies sooner than this is failing to start
_PR_SET_PDEATHSIG = 1  # <sys/prctl.h>


def supervise(
    name: str,
    target: Callable[..., None],
    args_of: Callable[[int], tuple[Any, ...]],
    workers: int,
    *,
    stop_s: float = 20.0,
) -> None:
    """Run `target(*args_of(i))` in `workers` processes (blocking); `name` is for logs."""
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        log.info("signal %d: stopping %d %s workers", signum, workers, name)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}

    parent = os.getpid()

    def start(index: int) -> tuple[BaseProcess, float]:
        process = context.Process(
            target=_child, args=(parent, target, args_of(index)), name=f"{name}-{index}"
        )
        process.start()
        return process, time.monotonic()

    running: list[tuple[BaseProcess, float]] = []
    try:
        for index in range(workers):
            running.append(start(index))
        pids = ", ".join(str(p.pid) for p, _ in running)
        log.info("%d %s workers: pids %s", workers, name, pids)
        while not stopping:
            time.sleep(0.2)
            for index, (process, began) in enumerate(running):
                if process.is_alive() or stopping:
                    continue
                lived = time.monotonic() - began
                if lived < STARTUP_S:
                    raise PlatformError(
                        f"{name} worker {process.pid} exited with {process.exitcode} "
                        f"{lived:.0f} s after it started; see the log above"
                    )
                log.error(
                    "%s worker %d exited with %s; starting another",
                    name,
                    process.pid,
                    process.exitcode,
                )
                running[index] = start(index)
    finally:
        for process, _ in running:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + stop_s
        for process, _ in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _child(parent: int, target: Callable[..., None], args: tuple[Any, ...]) -> None:
    # Ctrl-C reaches the whole process group: let the supervisor turn it into SIGTERM,
    # the graceful path, rather than interrupt each worker mid-step.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with(parent)
    target(*args)


def die_with(parent: int) -> None:
    """SIGTERM this process when `parent` dies, even by SIGKILL (Linux): no worker
    outlives its supervisor holding the port or landing files, no warm-runner command
    its runner."""
    with suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
