import os
import subprocess
import sys

from modelfleet.host.cores import usable_cores


def test_usable_cores_are_the_affinity_not_the_machine():
    # A process pinned to one core (as `taskset -c 0` or a container's `--cpuset-cpus`
    # pins it) sizes its thread pools for one core, whatever os.cpu_count() says.
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
