"""Which landed files are ready, and the quarantine's layout."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelfleet.fileops import write_atomic

# A file is picked up once it is complete: writers either land `name.part` and
# rename it (atomic), or write in place and leave it alone for SETTLE_S seconds.
SETTLE_S = 1.0
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload")


def ready_files(folder: Path, now: float | None = None) -> list[Path]:
    now = time.time() if now is None else now
    if not folder.is_dir():
        return []
    ready = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name.endswith(IGNORED_SUFFIXES) or not path.is_file():
            continue
        try:
            settled = now - path.stat().st_mtime >= SETTLE_S
        except FileNotFoundError:  # taken by another watcher meanwhile
            continue
        if settled:
            ready.append(path)
    return ready


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


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
