"""Keep the pool and the key cache in step with Postgres: LISTEN/NOTIFY, polling as a
fallback (a missed notification, a restarted database).

With `fleet_policies`, every sync also loads the fleet again (`config.load_fleet` parses
only files whose text changed), so a workflow added to or archived from workflows.d is
known, or unloaded and answered 404, within one poll and with no restart. Versions of
a workflow the fleet no longer declares are not served, whatever Postgres holds.
"""

from __future__ import annotations

import logging
import select
import threading
from collections.abc import Callable

from sqlalchemy.orm import Session

from modelfleet.config import ServingPolicy
from modelfleet.naming import ALIASES
from modelfleet.registry import db
from modelfleet.registry.store import applications, versions
from modelfleet.serving.pool import ModelPool, Wanted

log = logging.getLogger("modelfleet.serving")


def wanted_versions(session: Session) -> dict[str, Wanted]:
    """The version policy: production, the version it replaced, candidate, and pins."""
    aliases: dict[str, dict[str, str]] = {}
    for alias in ALIASES:
        for workflow, version in versions.all_aliases(session, alias).items():
            aliases.setdefault(workflow, {})[alias] = version.version
    keep: dict[str, set[str]] = {}
    for workflow, previous in versions.previous_versions(session).items():
        keep.setdefault(workflow, set()).add(previous)
    for workflow, pinned in applications.pinned_versions(session).items():
        keep.setdefault(workflow, set()).update(pinned)
    return {
        workflow: Wanted(aliases.get(workflow, {}), frozenset(keep.get(workflow, ())))
        for workflow in set(aliases) | set(keep)
    }


class RegistryWatcher(threading.Thread):
    def __init__(
        self,
        pool: ModelPool,
        database_url: str,
        *,
        poll_s: float = 5.0,
        on_sync: Callable[[bool], None] = lambda applications_changed: None,
        fleet_policies: Callable[[], dict[str, ServingPolicy]] | None = None,
    ) -> None:
        super().__init__(name="registry-watcher", daemon=True)
        self.pool = pool
        self.database_url = database_url
        self.poll_s = poll_s
        self.on_sync = on_sync
        self.fleet_policies = fleet_policies
        self._stop = threading.Event()
        self.synced = threading.Event()
        self._applications: str | None = None

    def stop(self) -> None:
        self._stop.set()

    def sync(self) -> None:
        """Make the pool match Postgres; loading happens here, off the request path."""
        with Session(db.engine(self.database_url)) as session:
            wanted = wanted_versions(session)
            applications_now = applications.fingerprint(session)
        if self.fleet_policies is not None:
            self._follow_fleet()
            wanted = {wf: want for wf, want in wanted.items() if wf in self.pool.policies}
        for change in self.pool.apply(wanted):
            log.info("%s", change)
        self.on_sync(applications_now != self._applications)
        self._applications = applications_now
        self.synced.set()

    def _follow_fleet(self) -> None:
        """The workflows declared now; a fleet that does not load (a hand-edited file
        half saved) keeps the workflows known before, and says why."""
        try:
            # sync() calls this only when fleet_policies is set
            policies = self.fleet_policies()  # type: ignore[misc]
        except Exception as exc:
            log.warning("cannot load the fleet, serving the workflows known before: %s", exc)
            return
        for change in self.pool.set_policies(policies):
            log.info("%s", change)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen_loop()
            except Exception:
                log.exception("registry watcher lost its connection; retrying")
                self._stop.wait(self.poll_s)

    def _listen_loop(self) -> None:
        conn = db.engine(self.database_url).raw_connection()
        try:
            raw = conn.driver_connection  # psycopg2's own: NOTIFY arrives through its poll()
            assert raw is not None  # a connection checked out of the pool always holds one
            raw.autocommit = True
            cursor = conn.cursor()
            cursor.execute(f"LISTEN {versions.ALIAS_CHANNEL}")
            self.sync()
            while not self._stop.is_set():
                # Wake on NOTIFY, or after poll_s anyway.
                select.select([raw], [], [], self.poll_s)
                raw.poll()
                raw.notifies.clear()
                self.sync()
        finally:
            conn.close()
