"""How many cores this process may run on."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The cores this process may use: its CPU affinity (what `taskset` or a container's
    `--cpuset-cpus` allows), not every core the machine has, which `os.cpu_count()`
    counts. A CPU quota without a cpuset (`docker --cpus`) is not seen."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity API on this platform
        return os.cpu_count() or 1
