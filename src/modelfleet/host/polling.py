"""A loop that calls `tick` forever: the platform's small followers (the stage mirror,
the fleet watch) run on it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


def poll_forever(
    tick: Callable[[], object],
    poll_s: float,
    *,
    max_pause_s: float,
    log: logging.Logger,
    what: str,
) -> None:
    """Call `tick` every `poll_s` until killed. A tick that raises is logged and the
    next comes later, doubling up to `max_pause_s` while they keep failing (a database
    away, say), so an outage neither stops the loop nor floods its log."""
    failures = 0
    while True:
        try:
            tick()
            failures = 0
        except Exception:
            failures += 1
            log.exception("%s: a tick failed (%d in a row)", what, failures)
        time.sleep(min(max_pause_s, poll_s * 2 ** min(failures, 6)))
