"""inotify on the landing folders (watchdog), listening only while the watcher is idle.

While a burst of files streams in, the watcher scans again as soon as a scan is done, so
events tell it nothing new; yet watchdog would still read every event and pair each
rename's two halves in a queue it searches linearly, on the watcher's GIL. So the watches
are removed while scans find work, and added back (followed by one more scan, for the
files that landed meanwhile) before the watcher waits.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("modelfleet.ingest")


class LandingWatch:
    def __init__(self, folders: list[Path], wake: threading.Event) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        class Wake(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                wake.set()

        self.folders = folders
        self._handler = Wake()
        self._observer = Observer()
        self._watches: list[Any] = []
        self._armed = False
        for folder in folders:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # e.g. a dangling link in its place: the scan refuses it
                log.warning("landing folder %s cannot be made: %s", folder, exc)
        self._observer.start()

    @property
    def armed(self) -> bool:
        return self._armed

    def arm(self) -> None:
        from watchdog.events import FileClosedEvent, FileCreatedEvent, FileMovedEvent

        if self._armed:
            return
        self._armed = True
        # Only the events that make a file ready: written and closed, renamed within the
        # folder, or moved in from another one (which watchdog reports as created).
        ready = [FileClosedEvent, FileMovedEvent, FileCreatedEvent]
        for folder in self.folders:
            try:
                watch = self._observer.schedule(self._handler, str(folder), event_filter=ready)
            except OSError:  # not a folder now: the rescan every few seconds covers it
                continue
            self._watches.append(watch)

    def disarm(self) -> None:
        for watch in self._watches:
            self._observer.unschedule(watch)
        self._watches = []
        self._armed = False

    def close(self) -> None:
        self._observer.stop()
        self._observer.join()
