"""File moves that must never lose data: atomic writes, quarantine, private folders."""

from __future__ import annotations

import os
import time
from pathlib import Path

PRIVATE = 0o700


def write_atomic(path: Path, data: bytes) -> None:
    """Readers see the old file or the whole new one, never a torn write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def quarantine_into(folder: Path, source: Path, reason: str) -> Path:
    """Move `source` into `folder` beside a `<name>.reason.txt`; never overwrite.

    The reason is written first, so a crash in between leaves an orphan reason
    file rather than a quarantined file nobody can explain.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    if target.exists():
        target = folder / f"{int(time.time() * 1000)}_{source.name}"
    write_atomic(target.with_name(target.name + ".reason.txt"), (reason + "\n").encode())
    os.replace(source, target)
    return target


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) readable only by the platform's user."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(PRIVATE)
    return path
