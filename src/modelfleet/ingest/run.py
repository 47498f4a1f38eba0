"""`modelfleet ingest`: one watcher process, or N sharing the landing folders, each under
`host.supervise` (a crashed worker restarts with backoff; `status` shows it).

The watcher is Python on one core (the GIL): hashing, decoding checks, SQL, HTTP and
file moves of thousands of files a second. With `--workers N`, N processes each take
the files whose name hashes to their index (`Ingestor.shard`), so N cores work. The
state machine in Postgres already makes concurrent watchers safe: rows are locked, and
the same bytes under two names (two shards) are classified once.
"""

from __future__ import annotations

import signal
import threading

from modelfleet.host.logs import configure_logging


def run(workers: int = 1) -> None:
    """Watch until SIGTERM or Ctrl-C (blocking)."""
    from modelfleet.errors import ConfigError

    if workers < 1:
        raise ConfigError(f"the stream classifier needs at least 1 worker, not {workers}")
    from modelfleet.host.supervise import supervise

    # One worker is supervised too: a crash restarts it with backoff, and `status` shows it.

    configure_logging()
    # A worker finishes the batches it holds before it exits: allow for a slow endpoint.
    supervise("ingest", run_shard, lambda index: (index, workers), workers, stop_s=60)


def run_shard(index: int, count: int) -> None:
    """One watcher process: the files of shard `index` of `count`."""
    from modelfleet.config import Fleet, load_fleet
    from modelfleet.ingest.watcher import Ingestor
    from modelfleet.registry import db
    from modelfleet.settings import get_settings

    configure_logging()
    settings = get_settings()

    def fleet() -> Fleet:
        return load_fleet(settings.config_file, settings.workflows_d, skip_bad_user_files=True)

    ingestor = Ingestor(
        settings, fleet(), db.database_url(), shard=(index, count), fleet_loader=fleet
    )
    stop = threading.Event()

    def finish(signum: int, _: object) -> None:  # SIGTERM: end the batch, flush, exit
        stop.set()
        ingestor.wake.set()

    signal.signal(signal.SIGTERM, finish)
    ingestor.run_forever(stop=stop)
