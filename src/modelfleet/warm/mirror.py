"""The platform's stage mirror loop: Postgres aliases into GTO stages, within seconds.

The warm runner forks it as a child (`server.py`); with the warm runner off
(`MODELFLEET_WARM_RUNNER=off`), `modelfleet up` runs it alone as the `stage-mirror`
process (`python -m modelfleet.warm.mirror`). Either way it is one process that does
nothing but this, so a crash costs nothing: its supervisor starts it again, and the new
one compares every stage once and finishes what the old one left (see
`versioning.stage_mirror`).
"""

from __future__ import annotations

import logging
import time

from modelfleet.host.logs import configure_logging
from modelfleet.host.polling import poll_forever
from modelfleet.registry import db
from modelfleet.settings import get_settings
from modelfleet.versioning.repo import ModelRepo
from modelfleet.versioning.stage_mirror import POLL_S, PostgresAliases, StageMirror

log = logging.getLogger("modelfleet.stage_mirror")
MAX_PAUSE_S = 30.0  # between ticks while they fail


def run_forever(poll_s: float = POLL_S) -> None:
    """Mirror every `poll_s` until killed; wait for the model repository if there is none
    yet (a warm runner started for a home without a platform mirrors nothing)."""
    settings = get_settings()
    repo = ModelRepo(settings.repo, settings.dvc_remote)
    if not repo.exists():
        log.info("stage mirror: no model repository at %s yet; waiting for one", repo.path)
        while not repo.exists():
            time.sleep(poll_s)
    mirror = StageMirror(repo, PostgresAliases(db.engine()))
    log.info("stage mirror: following the Postgres aliases into %s", repo.path)
    poll_forever(mirror.tick, poll_s, max_pause_s=MAX_PAUSE_S, log=log, what="stage mirror")


def main() -> None:
    """`python -m modelfleet.warm.mirror`: the mirror alone, for `up` without a warm runner."""
    configure_logging()
    run_forever()


if __name__ == "__main__":
    main()
