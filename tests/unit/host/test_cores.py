"""The cores a process may use: its CPU affinity, which sizes TensorFlow's thread pools,
the endpoint's key verifications and the training pool."""

from __future__ import annotations

import os
import subprocess
import sys

from modelfleet.host.cores import usable_cores


def test_usable_cores_are_the_affinity_not_the_machine():
    # A process pinned to one core (as `taskset -c 0` or a container's `--cpuset-cpus`
    # pins it) counts one, whatever os.cpu_count() says.
    one = min(os.sched_getaffinity(0))
    pinned = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import os; os.sched_setaffinity(0, {{{one}}}); "
            "from modelfleet.host.cores import usable_cores; print(usable_cores())",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert pinned.stdout.strip() == "1"
    assert usable_cores() == len(os.sched_getaffinity(0))


def test_the_training_pool_follows_the_affinity(monkeypatch):
    from modelfleet.orchestration import pools

    monkeypatch.delenv("MODELFLEET_TRAINING_SLOTS", raising=False)
    monkeypatch.setattr(pools, "usable_cores", lambda: 6)
    assert pools.training_slots() == 3
