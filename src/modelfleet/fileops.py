"""File moves that must never lose data: atomic writes, quarantine, private folders.

What the platform keeps of other people's images (deliveries, quarantine, the lake) is
readable by the platform's user only: files 0600, folders 0700. Modes are set when a file
or folder is made (`os.open`/`mkdir` with the mode, which a umask can only narrow) and
set again where an existing one is reused.
"""

from __future__ import annotations

import os
import time
from contextlib import suppress
from pathlib import Path

PRIVATE = 0o700  # folders
PRIVATE_FILE = 0o600


def private_dir(path: Path, *, under: Path | None = None) -> Path:
    """Create `path` (and its parents) and make it private. With `under`, every folder
    from `under` down to `path` is made private too; parents above are made as `mkdir -p`
    would (a private `$MODELFLEET_HOME` would shut producers out of landing)."""
    top = path if under is None else under
    if path != top and top not in path.parents:
        raise ValueError(f"{path} is not under {top}")
    top.parent.mkdir(parents=True, exist_ok=True)
    parts = path.relative_to(top).parts
    for folder in [top, *(top.joinpath(*parts[: n + 1]) for n in range(len(parts)))]:
        with suppress(FileExistsError):  # there already, or made meanwhile by another process
            folder.mkdir(PRIVATE)
        folder.chmod(PRIVATE)  # one made before keeps its mode through mkdir
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` as a private file (replacing what is there)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)  # a file that existed keeps its mode through O_CREAT
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Readers see the old file or the whole new one, never a torn write. The file is
    private; its folder must exist (`private_dir`)."""
    tmp = path.with_name(f".{path.name}.tmp")
    write_private(tmp, data)
    os.replace(tmp, path)


def quarantine_into(folder: Path, source: Path, reason: str) -> Path:
    """Move `source` into `folder` beside a `<name>.reason.txt`; never overwrite.

    The reason is written first, so a crash in between leaves an orphan reason
    file rather than a quarantined file nobody can explain.
    """
    private_dir(folder)
    target = folder / source.name
    if target.exists():
        target = folder / f"{int(time.time() * 1000)}_{source.name}"
    write_atomic(target.with_name(target.name + ".reason.txt"), (reason + "\n").encode())
    os.replace(source, target)
    with suppress(PermissionError):  # not ours to change: the folder keeps others out
        target.chmod(PRIVATE_FILE)
    return target
