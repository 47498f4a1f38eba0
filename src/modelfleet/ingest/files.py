"""The days of the lake, and the quarantine's layout."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from modelfleet.fileops import PRIVATE_FILE, private_dir, write_atomic


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def recent_days() -> set[str]:
    """Today and yesterday (UTC): the partitions a restarted watcher may owe a manifest."""
    now = datetime.now(UTC)
    return {(now - timedelta(days=n)).strftime("%Y-%m-%d") for n in (0, 1)}


def quarantine_file(
    root: Path,
    folder: Path,
    sha256: str,
    content: bytes | int,
    reason: dict[str, Any],
) -> Path:
    """Write `<sha256>` and its `<sha256>.json` reason into `folder` (under the quarantine
    `root`; private, like every folder between). `content` is the bytes, or a descriptor
    of a file too large to hold, copied from its start.

    The name comes from the content, never from the producer's file name (which the
    reason keeps), and is the same on every attempt: a resumed file overwrites its own
    copy. The reason is written first: a crash in between leaves a reason without a
    file, never a file nobody can explain.
    """
    private_dir(folder, under=root)
    target = folder / sha256
    write_atomic(folder / f"{sha256}.json", json.dumps(reason, indent=1).encode())
    if isinstance(content, bytes):
        write_atomic(target, content)
    else:
        _copy_atomic(content, target)
    return target


def _copy_atomic(source: int, target: Path) -> None:
    """Copy the file open as `source` (from offset 0, whatever its position) to `target`:
    a private temporary file, then a rename."""
    tmp = target.with_name(f".{target.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
        offset = 0
        while chunk := os.pread(source, 1 << 20, offset):
            offset += len(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.replace(tmp, target)
