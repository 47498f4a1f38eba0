"""inotify on the landing folders (watchdog), listening only while the watcher is idle.

While a burst of files streams in, the watcher scans again as soon as a scan is done, so
events tell it nothing new; yet watchdog would still read every event and pair each
rename's two halves in a queue it searches linearly, on the watcher's GIL. So the watches
are removed while scans find work, and added back (followed by one more scan, for the
files that landed meanwhile) before the watcher waits.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any


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
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
        self._observer.start()

    @property
    def armed(self) -> bool:
        return bool(self._watches)

    def arm(self) -> None:
        from watchdog.events import FileClosedEvent, FileCreatedEvent, FileMovedEvent

        if self.armed:
            return
        # Only the events that make a file ready: written and closed, renamed within the
        # folder, or moved in from another one (which watchdog reports as created).
        ready = [FileClosedEvent, FileMovedEvent, FileCreatedEvent]
        self._watches = [
            self._observer.schedule(self._handler, str(folder), event_filter=ready)
            for folder in self.folders
        ]

    def disarm(self) -> None:
        for watch in self._watches:
            self._observer.unschedule(watch)
        self._watches = []

    def close(self) -> None:
        self._observer.stop()
        self._observer.join()
