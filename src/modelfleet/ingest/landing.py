"""A landing folder, read without trusting what is in it (`landing/<wf>/`).

Producers the platform does not control write here, and the watcher may run as root. A
scan opens the folder once (`O_DIRECTORY|O_NOFOLLOW`) and does everything else relative
to that descriptor, so that no name is looked up twice and none leads outside:

- An entry the listing reports as a link, FIFO, socket, device or folder is refused
  without being opened. Any other entry is opened with `O_NOFOLLOW|O_NONBLOCK` (a link
  fails to open, a FIFO cannot block) and judged by `fstat` of what was opened: it is
  read, through that descriptor, only if it is a regular file with one name (a second
  hard link may be the name of a file outside landing).
- A refused entry is moved into `.rejected/` (a private folder beside the files) with
  `renameat` on the same descriptors, and never read. A processed file is unlinked
  relative to the folder's descriptor, unless it changed since it was read.
- An error on one entry is that entry's own: it is refused with the error as its reason.

Names are bytes here (`Entry.raw`); `Entry.display` is their escaped form for people.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from modelfleet.errors import DataError
from modelfleet.fileops import PRIVATE
from modelfleet.printable import display_name, printable

# A file is picked up once it is complete: writers either land `name.part` and
# rename it (atomic), or write in place and leave it alone for SETTLE_S seconds.
SETTLE_S = 1.0
IGNORED_SUFFIXES = (b".part", b".tmp", b".crdownload")
REJECTED = ".rejected"
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_ENTRY = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_CHUNK = 1 << 20
_KINDS = (
    (stat.S_ISLNK, "symlink"),
    (stat.S_ISFIFO, "fifo"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "char_device"),
    (stat.S_ISBLK, "block_device"),
    (stat.S_ISDIR, "directory"),
)
_WHY = {
    "symlink": "a symbolic link: landing never follows links",
    "fifo": "a FIFO, not a regular file",
    "socket": "a socket, not a regular file",
    "char_device": "a character device, not a regular file",
    "block_device": "a block device, not a regular file",
    "directory": "a folder, not a file: landing takes files only",
    "other": "not a regular file",
}


class LandingError(DataError):
    """A landing folder that cannot be scanned (a link, or not a folder)."""


@dataclass(frozen=True)
class FileIdentity:
    """Which file, with which content: changes if it is replaced or rewritten."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, stat_result: os.stat_result) -> FileIdentity:
        s = stat_result
        return cls(s.st_dev, s.st_ino, s.st_size, s.st_mtime_ns)


@dataclass(frozen=True)
class Entry:
    """One name in a landing folder, as the listing saw it."""

    raw: bytes  # as the filesystem holds it (any bytes but / and NUL)
    regular: bool  # what the listing reports; checked again on the opened file

    @property
    def name(self) -> str:
        """For the `dir_fd=` calls (`os.fsdecode`: undecodable bytes round-trip)."""
        return os.fsdecode(self.raw)

    @property
    def display(self) -> str:
        return display_name(self.raw)


@dataclass(frozen=True)
class Refusal:
    """An entry that is not read: why, and which file it was (device and inode of the
    entry itself, never of what a link points to)."""

    entry: Entry
    kind: str  # a _KINDS kind, hard_link, unreadable or error
    reason: str
    device: int
    inode: int
    movable: bool = True  # into .rejected/; an `error` stays for the next scan

    @property
    def key(self) -> tuple[bytes, int, int]:
        return (self.entry.raw, self.device, self.inode)

    @property
    def rejected_name(self) -> str:
        """Its name in `.rejected/`: fixed by its key, free of anything the producer chose."""
        return f"{self.inode}-{hashlib.sha256(self.entry.raw).hexdigest()[:16]}"


@dataclass
class LandedFile:
    """A regular file, read through the descriptor that was checked. A file over the
    size limit is hashed, not held: `handle` (a duplicate of that descriptor, for
    `copy_out`) stays open until `close`."""

    entry: Entry
    sha256: str
    size: int
    identity: FileIdentity
    data: bytes = b""  # empty when `handle` is set
    handle: int | None = None

    def close(self) -> None:
        if self.handle is not None:
            os.close(self.handle)
            self.handle = None


def skipped(raw: bytes) -> bool:
    """Dot files (`.rejected` among them) and files still being written are never read."""
    return raw.startswith(b".") or raw.endswith(IGNORED_SUFFIXES)


def kind_of(mode: int) -> str:
    """`file`, or the kind of entry that is refused."""
    if stat.S_ISREG(mode):
        return "file"
    return next((kind for test, kind in _KINDS if test(mode)), "other")


class LandingFolder:
    """One scan of `landing/<wf>`: its descriptor, its entries, reading and moving them."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd
        self._rejected: int | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> LandingFolder | None:
        """The folder opened without following a link; None if it does not exist."""
        try:
            parent = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            return cls(path, os.open(path.name, _FOLDER, dir_fd=parent))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise LandingError(
                f"landing folder {printable(str(path))} cannot be opened as a folder "
                f"({exc.strerror}); it must be a folder, not a link to one"
            ) from None
        finally:
            os.close(parent)

    def close(self) -> None:
        for fd in (self._rejected, self.fd):
            if fd is not None:
                os.close(fd)
        self._rejected = None

    def __enter__(self) -> LandingFolder:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def entries(self) -> list[Entry]:
        """Every entry but the skipped ones, by name."""
        found = []
        with os.scandir(self.fd) as listing:
            for dir_entry in listing:
                raw = os.fsencode(dir_entry.name)
                if skipped(raw):
                    continue
                try:  # d_type, no system call where the filesystem reports it
                    regular = dir_entry.is_file(follow_symlinks=False)
                except OSError:
                    regular = True  # unknown: the open decides
                found.append(Entry(raw, regular))
        return sorted(found, key=lambda e: e.raw)

    def read(self, entry: Entry, now: float, limit: int) -> LandedFile | Refusal | None:
        """The file's bytes, or why it is refused. None while it is not settled (written
        less than SETTLE_S ago, or changing while read) or gone. A file over `limit`
        bytes is hashed in chunks instead of held (`LandedFile.handle`)."""
        if not entry.regular:
            return self._refused(entry, None)
        try:
            fd = os.open(entry.name, _ENTRY, dir_fd=self.fd)
        except FileNotFoundError:
            return None  # taken by another watcher meanwhile
        except OSError as exc:
            return self._failed_open(entry, exc)
        try:
            before = os.fstat(fd)
            if kind_of(before.st_mode) != "file":
                return self._refused(entry, before)
            if before.st_nlink > 1:
                return Refusal(
                    entry,
                    "hard_link",
                    f"a file with {before.st_nlink} hard links: another name may lie outside "
                    "landing (land a copy, or rename a .part file)",
                    before.st_dev,
                    before.st_ino,
                )
            if now - before.st_mtime < SETTLE_S:
                return None
            landed = self._read_fd(entry, fd, before, limit)
            if FileIdentity.of(os.fstat(fd)) != landed.identity:
                landed.close()
                return None  # still being written: the next scan has it whole
            return landed
        except OSError as exc:  # an I/O error may pass: the entry stays for the next scan
            reason = f"cannot read it: {exc.strerror}"
            return Refusal(entry, "error", reason, *self._key(entry), movable=False)
        finally:
            os.close(fd)

    def reject(self, refusal: Refusal) -> None:
        """Move the entry into `.rejected/` (raises OSError where it cannot)."""
        name, rejected = refusal.entry.name, self._rejected_fd()
        os.rename(name, refusal.rejected_name, src_dir_fd=self.fd, dst_dir_fd=rejected)
        # A rename onto another name of the same file does nothing: the same hard link,
        # landed again, whose name `.rejected/` already holds. Drop the landing name.
        with suppress(FileNotFoundError):
            left = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
            if (left.st_dev, left.st_ino) == (refusal.device, refusal.inode):
                os.unlink(name, dir_fd=self.fd)

    def remove_if_unchanged(self, entry: Entry, identity: FileIdentity) -> str:
        """Unlink a processed file, unless the name now holds another file or the file
        changed since it was read (new content, for the next scan). Returns `removed`,
        `changed` or `gone`."""
        try:
            now = os.stat(entry.name, dir_fd=self.fd, follow_symlinks=False)
            if FileIdentity.of(now) != identity:
                return "changed"
            os.unlink(entry.name, dir_fd=self.fd)
        except FileNotFoundError:
            return "gone"
        return "removed"

    def _read_fd(self, entry: Entry, fd: int, before: os.stat_result, limit: int) -> LandedFile:
        identity = FileIdentity.of(before)
        if before.st_size <= limit:
            chunks = []
            while chunk := os.read(fd, _CHUNK):
                chunks.append(chunk)
            data = b"".join(chunks)
            return LandedFile(entry, hashlib.sha256(data).hexdigest(), len(data), identity, data)
        digest, offset = hashlib.sha256(), 0
        while chunk := os.pread(fd, _CHUNK, offset):
            digest.update(chunk)
            offset += len(chunk)
        return LandedFile(entry, digest.hexdigest(), offset, identity, handle=os.dup(fd))

    def _refused(self, entry: Entry, seen: os.stat_result | None) -> Refusal | None:
        """Refuse a special entry, judged by `seen` (fstat of it opened) or else by
        `lstat` relative to the folder (nothing is opened). None if it is gone, or is a
        regular file now (the next scan reads it)."""
        if seen is None:
            try:
                seen = os.stat(entry.name, dir_fd=self.fd, follow_symlinks=False)
            except FileNotFoundError:
                return None
            except OSError as exc:
                return Refusal(entry, "error", f"cannot stat it: {exc.strerror}", 0, 0, False)
        kind = kind_of(seen.st_mode)
        if kind == "file":  # replaced by a regular file since it was listed
            return None
        return Refusal(entry, kind, _WHY[kind], seen.st_dev, seen.st_ino)

    def _failed_open(self, entry: Entry, exc: OSError) -> Refusal | None:
        if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EOPNOTSUPP, errno.ENODEV):
            return self._refused(entry, None)  # a link, or a socket or device without driver
        if exc.errno in (errno.EACCES, errno.EPERM):
            return Refusal(
                entry, "unreadable", f"cannot open it: {exc.strerror}", *self._key(entry)
            )
        reason = f"cannot open it: {exc.strerror}"
        return Refusal(entry, "error", reason, *self._key(entry), movable=False)

    def _key(self, entry: Entry) -> tuple[int, int]:
        try:
            seen = os.stat(entry.name, dir_fd=self.fd, follow_symlinks=False)
        except OSError:
            return 0, 0
        return seen.st_dev, seen.st_ino

    def _rejected_fd(self) -> int:
        """`.rejected/`, made private if absent; refused if it is not a folder of ours."""
        with self._lock:
            if self._rejected is None:
                with suppress(FileExistsError):
                    os.mkdir(REJECTED, PRIVATE, dir_fd=self.fd)
                fd = os.open(REJECTED, _FOLDER, dir_fd=self.fd)
                if os.fstat(fd).st_uid != os.geteuid():
                    os.close(fd)
                    raise PermissionError(
                        errno.EPERM, f"{REJECTED} belongs to another user; remove it"
                    )
                os.fchmod(fd, PRIVATE)
                self._rejected = fd
            return self._rejected
