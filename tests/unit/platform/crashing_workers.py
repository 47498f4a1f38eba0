"""Worker functions for the supervisor tests. Spawned workers import this module, so it
imports nothing heavy (no pytest)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def crash_at_once(index: int) -> None:
    """A worker that can never start, with a message that tries to forge a log line."""
    raise ValueError(f"bad entry in shard {index}\n2026-01-01 00:00:00 INFO stored")


def crash_twice_then_run(index: int, folder: str) -> None:
    """Raise on the first start, die by SIGKILL on the second, then run until SIGTERM."""
    starts = Path(folder) / f"starts-{index}"
    count = len(starts.read_text()) if starts.exists() else 0
    with starts.open("a") as file:
        file.write("x")
    if count == 0:
        raise RuntimeError("database is starting up")
    if count == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    while True:
        time.sleep(0.05)
