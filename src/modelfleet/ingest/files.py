"""Which landed files are ready, and the quarantine's layout."""

from __future__ import annotations

import json
import os
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from modelfleet.fileops import write_atomic

# A file is picked up once it is complete: writers either land `name.part` and
# rename it (atomic), or write in place and leave it alone for SETTLE_S seconds.
SETTLE_S = 1.0
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload")


def ready_files(folder: Path, now: float | None = None) -> list[Path]:
    """The complete files in `folder`, by name."""
    now = time.time() if now is None else now
    ready = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    for entry in entries:
        name = entry.name
        if name.startswith(".") or name.endswith(IGNORED_SUFFIXES):
            continue
        try:
            if not entry.is_file() or now - entry.stat().st_mtime < SETTLE_S:
                continue
        except FileNotFoundError:  # taken by another watcher meanwhile
            continue
        ready.append(name)
    return [folder / name for name in sorted(ready)]


def in_shard(files: list[Path], index: int, count: int) -> list[Path]:
    """The files that shard `index` of `count` watcher processes takes (by name, stable)."""
    if count == 1:
        return files
    return [f for f in files if zlib.crc32(f.name.encode()) % count == index]


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def recent_days() -> set[str]:
    """Today and yesterday (UTC): the partitions a restarted watcher may owe a manifest."""
    now = datetime.now(UTC)
    return {(now - timedelta(days=n)).strftime("%Y-%m-%d") for n in (0, 1)}


def quarantine_file(
    folder: Path, sha256: str, original_name: str, data: bytes, reason: dict[str, Any]
) -> Path:
    """Write `<sha12>__<original name>` and its `.json` reason into `folder`.

    The name keeps the original for operators and is the same on every attempt,
    so a resumed file overwrites its own copy instead of adding one. The reason
    is written first: a crash in between leaves a reason without a file, never
    a file nobody can explain.
    """
    target = folder / f"{sha256[:12]}__{Path(original_name).name}"
    write_atomic(target.with_name(target.name + ".json"), json.dumps(reason, indent=1).encode())
    write_atomic(target, data)
    return target
