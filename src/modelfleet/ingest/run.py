"""`modelfleet ingest`: one watcher process, or N sharing the landing folders.

The watcher is Python on one core (the GIL): hashing, decoding checks, SQL, HTTP and
file moves of thousands of files a second. With `--workers N`, N processes each take
the files whose name hashes to their index (`Ingestor.shard`), so N cores work. The
state machine in Postgres already makes concurrent watchers safe: rows are locked, and
the same bytes under two names (two shards) are classified once.
"""

from __future__ import annotations

import signal
import threading

from modelfleet.platform.logs import configure_logging


def run(workers: int = 1) -> None:
    """Watch until SIGTERM or Ctrl-C (blocking)."""
    from modelfleet.errors import ConfigError

    if workers < 1:
        raise ConfigError(f"the stream classifier needs at least 1 worker, not {workers}")
    if workers == 1:
        run_shard(0, 1)
        return
    from modelfleet.platform.supervise import supervise

    configure_logging()
    # A worker finishes the batches it holds before it exits: allow for a slow endpoint.
    supervise("ingest", run_shard, lambda index: (index, workers), workers, stop_s=60)


def run_shard(index: int, count: int) -> None:
    """One watcher process: the files of shard `index` of `count`."""
    from modelfleet import db
    from modelfleet.config import load_fleet
    from modelfleet.ingest.watcher import Ingestor
    from modelfleet.settings import get_settings

    configure_logging()
    settings = get_settings()
    fleet = load_fleet(settings.config_file)
    ingestor = Ingestor(settings, fleet, db.database_url(), shard=(index, count))
    stop = threading.Event()

    def finish(signum: int, _: object) -> None:  # SIGTERM: end the batch, flush, exit
        stop.set()
        ingestor.wake.set()

    signal.signal(signal.SIGTERM, finish)
    ingestor.run_forever(stop=stop)
