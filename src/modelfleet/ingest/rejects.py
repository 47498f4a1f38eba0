"""Landing entries the scan refused (`landing.Refusal`): each recorded once in
`landing_reject`, logged once, and moved into `landing/<wf>/.rejected/`."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from modelfleet.ingest.landing import REJECTED, LandingFolder, Refusal
from modelfleet.registry.store import ingest_files as store

log = logging.getLogger("modelfleet.ingest")


class Rejects:
    """What one watcher process refuses. Entries that stay in landing (an error, or one
    that cannot be moved) are seen by every scan: they are recorded and logged once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._recorded: set[tuple[str, bytes, int, int]] = set()  # still in landing
        self._warned: set[tuple[Any, ...]] = set()

    def handle(self, workflow: str, folder: LandingFolder, refused: list[Refusal]) -> int:
        """Record the refused entries not recorded yet, and move those that may be moved;
        returns how many were recorded for the first time."""
        fresh = [r for r in refused if (workflow, *r.key) not in self._recorded]
        new: set[tuple[bytes, int, int]] = set()
        if fresh:
            with Session(self.engine) as session, session.begin():
                new = store.record_rejects(session, workflow, [_row(r) for r in fresh])
        for refusal in refused:
            if refusal.key in new:
                log.warning(
                    "%s %s: rejected (%s): %s",
                    workflow,
                    refusal.entry.display,
                    refusal.kind,
                    refusal.reason,
                )
            if not (refusal.movable and self._move(workflow, folder, refusal)):
                self._recorded.add((workflow, *refusal.key))
        return len(new)

    def warn_once(self, key: tuple[Any, ...], message: str) -> None:
        """Log `message` the first time `key` comes up (a problem every scan meets)."""
        if key not in self._warned:
            self._warned.add(key)
            log.warning("%s", message)

    def _move(self, workflow: str, folder: LandingFolder, refusal: Refusal) -> bool:
        try:
            folder.reject(refusal)
        except OSError as exc:
            self.warn_once(
                ("move", workflow, *refusal.key),
                f"{workflow} {refusal.entry.display}: cannot move it into {REJECTED}/: "
                f"{exc.strerror or exc}; it stays in landing",
            )
            return False
        return True


def _row(refusal: Refusal) -> dict[str, Any]:
    return {
        "name_raw": refusal.entry.raw,
        "name": refusal.entry.display,
        "device": refusal.device,
        "inode": refusal.inode,
        "kind": refusal.kind,
        "reason": refusal.reason,
        "moved_to": f"{REJECTED}/{refusal.rejected_name}" if refusal.movable else None,
    }
