"""What is ready in landing: the entries a watcher takes, in batches, read into files.

`landing.py` reads one folder without trusting what is in it; this module decides which
of its entries this watcher takes (its shard), cuts them into batches and reads a batch
into `Landed` files, on their way through the states, and `Refusal`s for `rejects`.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelfleet.ingest.landing import Entry, LandedFile, LandingError, LandingFolder, Refusal
from modelfleet.registry.store.ingest_files import RECEIVED

log = logging.getLogger("modelfleet.ingest")
# Logs a problem that every scan meets once: (key, message).
Warn = Callable[[tuple[Any, ...], str], None]


@dataclass
class Landed:
    """A landed file on its way through the states."""

    file: LandedFile
    folder: LandingFolder
    row_id: int = 0
    day: str = ""
    state: str = RECEIVED
    answer: dict[str, Any] = field(default_factory=dict)

    @property
    def data(self) -> bytes:
        return self.file.data

    @property
    def sha256(self) -> str:
        return self.file.sha256

    @property
    def raw_name(self) -> bytes:
        return self.file.entry.raw

    @property
    def name(self) -> str:
        """The landing name for people and logs (escaped)."""
        return self.file.entry.display


def in_shard(entries: list[Entry], index: int, count: int) -> list[Entry]:
    """The entries that shard `index` of `count` watcher processes takes (by the bytes of
    the name, stable)."""
    if count == 1:
        return entries
    return [e for e in entries if zlib.crc32(e.raw) % count == index]


def open_folder(landing: Path, workflow: str, warn: Warn) -> LandingFolder | None:
    """`landing/<workflow>/`, opened for a scan; None when absent or not scannable."""
    try:
        return LandingFolder.open(landing / workflow)
    except LandingError as exc:
        warn(("folder", workflow), str(exc))
        return None


def batches(
    folder: LandingFolder, workflow: str, shard: tuple[int, int], size: int, warn: Warn
) -> list[list[Entry]]:
    """This shard's entries of `folder`, `size` at a time (none when it cannot be listed)."""
    try:
        entries = in_shard(folder.entries(), *shard)
    except OSError as exc:
        warn(("list", workflow), f"{workflow}: cannot list landing: {exc}")
        return []
    return [entries[at : at + size] for at in range(0, len(entries), size)]


def read_batch(
    workflow: str, folder: LandingFolder, entries: list[Entry], limit: int
) -> tuple[list[Landed], list[Refusal]]:
    """Read the settled regular files of a batch; the other entries are refused."""
    landed: list[Landed] = []
    refused: list[Refusal] = []
    seen: set[str] = set()
    now = time.time()
    for entry in entries:
        try:
            result = folder.read(entry, now, limit)
        except Exception as exc:  # one entry never stops the scan, whatever it is
            log.exception("%s %s: cannot be read", workflow, entry.display)
            result = Refusal(entry, "error", f"{type(exc).__name__}: {exc}", 0, 0, False)
        if isinstance(result, Refusal):
            refused.append(result)
        elif result is not None:
            if result.sha256 in seen:  # the same bytes twice in one batch: next scan
                result.close()
                continue
            seen.add(result.sha256)
            landed.append(Landed(result, folder))
    return landed, refused
