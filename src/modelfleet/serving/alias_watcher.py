"""Follow the production alias in Postgres: LISTEN/NOTIFY, with polling as a fallback."""

from __future__ import annotations

import logging
import select
import threading

from sqlalchemy.orm import Session

from modelfleet import db
from modelfleet.registry.store.versions import ALIAS_CHANNEL, all_aliases
from modelfleet.serving.pool import ModelPool

log = logging.getLogger("modelfleet.serving")


class AliasWatcher(threading.Thread):
    def __init__(self, pool: ModelPool, database_url: str, poll_s: float = 5.0) -> None:
        super().__init__(name="alias-watcher", daemon=True)
        self.pool = pool
        self.database_url = database_url
        self.poll_s = poll_s
        self._stop = threading.Event()
        self.synced = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def sync(self) -> None:
        """Make the pool's production view match Postgres."""
        with Session(db.engine(self.database_url)) as session:
            aliases = all_aliases(session)
        for workflow, version in aliases.items():
            try:
                if self.pool.set_production(workflow, version.version):
                    log.info("serving %s %s as production", workflow, version.version)
            except Exception:  # keep serving the old version; retry next round
                log.exception("could not load %s %s", workflow, version.version)
        self.synced.set()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen_loop()
            except Exception:
                log.exception("alias watcher lost its connection; retrying")
                self._stop.wait(self.poll_s)

    def _listen_loop(self) -> None:
        conn = db.engine(self.database_url).raw_connection()
        try:
            conn.driver_connection.autocommit = True  # type: ignore[union-attr]
            cursor = conn.cursor()
            cursor.execute(f"LISTEN {ALIAS_CHANNEL}")
            self.sync()
            raw = conn.driver_connection
            while not self._stop.is_set():
                # Wake on NOTIFY, or after poll_s anyway (missed notifications, restarts).
                select.select([raw], [], [], self.poll_s)
                raw.poll()  # type: ignore[union-attr]
                raw.notifies.clear()  # type: ignore[union-attr]
                self.sync()
        finally:
            conn.close()
