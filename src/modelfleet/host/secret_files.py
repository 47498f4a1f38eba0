"""Files that hold secrets or passwords: readable by the platform's user alone (0600).

They are created 0600, never opened wider for a moment, and `modelfleet up` narrows them
again at every start and after Airflow has started, since Airflow writes some of them
itself (`airflow.cfg` with its Fernet key; the simple auth manager's passwords file when
it lacks a user) with the umask's mode, and files from an older install may be wider.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

SECRET = 0o600


def write_secret(path: Path, text: str) -> None:
    """Replace `path` atomically with `text`, mode 0600 from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)  # O_EXCL below: never write through someone's link
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, SECRET)
    os.fchmod(fd, SECRET)  # the umask may have narrowed it further; exactly 0600
    with os.fdopen(fd, "w") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)


def restrict(paths: Iterable[Path]) -> list[Path]:
    """Make each existing file 0600 (links are left alone, never followed). Returns the
    files whose mode it changed."""
    changed = []
    for path in paths:
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(info.st_mode) or stat.S_IMODE(info.st_mode) == SECRET:
            continue
        path.chmod(SECRET)
        changed.append(path)
    return changed
