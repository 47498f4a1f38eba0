"""Run a sample of test ids one by one, each in its own pytest process: every test must
pass alone (`pytest path::test`), not only after the tests before it in the suite.

CI (.ci/run) runs it after `make test`. The sample is 10 ids drawn with
random.Random(seed) from everything `pytest --collect-only -q` lists (nothing is left
out), at most 3 of them from tests/integration: alone, an integration test brings up
its own platform and makes the model versions it needs (minutes each), so the cap keeps
a run to a few minutes plus those. The seed is MODELFLEET_SAMPLE_SEED if set, else
today's date (YYYYMMDD, UTC), and it is printed first; rerun a failed sample with

    MODELFLEET_SAMPLE_SEED=<seed> .venv/bin/python tests/sample_alone.py

MODELFLEET_SAMPLE_SIZE and MODELFLEET_SAMPLE_INTEGRATION change the 10 and the 3. The
browser test (tests/integration/test_ui.py) is in the draw: it needs Debian's chromium,
as `make test-ui` does (.ci/run installs it first).
Exit status: 0 when every sampled test passed (or skipped), 1 otherwise.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
INTEGRATION = "tests/integration/"


def collected() -> list[str]:
    """Every test id of the suite, as `pytest --collect-only -q` prints them."""
    listing = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
    )
    if listing.returncode != 0:
        sys.exit(f"collection failed:\n{listing.stdout[-3000:]}{listing.stderr[-3000:]}")
    return [line.strip() for line in listing.stdout.splitlines() if "::" in line]


def sample(ids: list[str], seed: int, size: int, most_integration: int) -> list[str]:
    """`size` ids in a random order fixed by `seed`, at most `most_integration` of them
    from tests/integration."""
    order = sorted(ids)  # the draw depends on the seed and the ids, not on collection order
    random.Random(seed).shuffle(order)
    chosen: list[str] = []
    integration = 0
    for test_id in order:
        if len(chosen) == size:
            break
        if test_id.startswith(INTEGRATION):
            if integration == most_integration:
                continue
            integration += 1
        chosen.append(test_id)
    return chosen


def main() -> int:
    seed = int(os.environ.get("MODELFLEET_SAMPLE_SEED") or datetime.now(UTC).strftime("%Y%m%d"))
    size = int(os.environ.get("MODELFLEET_SAMPLE_SIZE", "10"))
    most_integration = int(os.environ.get("MODELFLEET_SAMPLE_INTEGRATION", "3"))
    print(f"sample of tests run alone: seed {seed} (MODELFLEET_SAMPLE_SEED={seed} reruns it)")
    chosen = sample(collected(), seed, size, most_integration)
    for test_id in chosen:
        print(f"  {test_id}")
    failed = []
    for test_id in chosen:
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_id],
            cwd=CHECKOUT,
            capture_output=True,
            text=True,
        )
        took = time.monotonic() - started
        print(f"{'ok  ' if result.returncode == 0 else 'FAIL'} {took:6.1f}s  {test_id}", flush=True)
        if result.returncode != 0:  # 5 (nothing ran) fails too: the id no longer resolves
            failed.append(test_id)
            print(result.stdout[-6000:] + result.stderr[-3000:], flush=True)
    if failed:
        print(f"{len(failed)} of {len(chosen)} failed alone (seed {seed}):")
        for test_id in failed:
            print(f"  {test_id}")
        return 1
    print(f"all {len(chosen)} passed alone (seed {seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
