"""The lake: classified images and a Parquet manifest per partition, through fsspec.

Layout (any fsspec URL: a local path, file://, s3://, hdfs://):

    <lake>/<wf>/date=YYYY-MM-DD/<sha256>.<ext>      the image, EXIF stripped
    <lake>/<wf>/date=YYYY-MM-DD/manifest.parquet    one row per image of the partition

`<sha256>` is the hash of the file as it arrived (before stripping), the key
`modelfleet lineage` accepts. The manifest is rewritten from Postgres (the
source of truth) after each batch, so it can always be rebuilt.
"""

from __future__ import annotations

import io
import os
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem
from PIL import Image

from modelfleet.ingest.metadata import pixels_only

MANIFEST = "manifest.parquet"
MANIFEST_SCHEMA = pa.schema(
    [
        ("sha256", pa.string()),
        ("path", pa.string()),
        ("source", pa.string()),
        ("label", pa.string()),
        ("score", pa.float64()),
        ("scores_json", pa.string()),
        ("model_version", pa.string()),
        ("received_at", pa.timestamp("us", tz="UTC")),
        ("classified_at", pa.timestamp("us", tz="UTC")),
    ]
)
_SAVE_FORMATS = {
    "JPEG": "jpg",
    "PNG": "png",
    "BMP": "bmp",
    "TIFF": "tiff",
    "WEBP": "webp",
    "GIF": "gif",
}


def strip_metadata(data: bytes) -> tuple[bytes, str]:
    """The image without EXIF, GPS or other metadata; returns (bytes, extension).
    Re-encoded, unless it holds nothing but pixels already (then as it arrived)."""
    extension = pixels_only(data)
    if extension is not None:
        return data, extension
    with Image.open(io.BytesIO(data)) as image:
        fmt = image.format if image.format in _SAVE_FORMATS else "PNG"
        # A plain copy of the pixels (and palette): not the file's own object, whose
        # plugin would carry comments, XMP or IPTC over, and no info but transparency.
        clean = image.copy()
        clean.info = {k: v for k, v in image.info.items() if k == "transparency"}
        out = io.BytesIO()
        if fmt == "JPEG":
            clean.save(out, format="JPEG", quality=95)
        else:
            clean.save(out, format=fmt)
    return out.getvalue(), _SAVE_FORMATS[fmt]


@dataclass(frozen=True)
class FileIdentity:
    """Which file, with which content: changes if it is replaced or rewritten."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, stat: os.stat_result) -> FileIdentity:
        return cls(stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _linkable(landed: Path, identity: FileIdentity, size: int) -> bool:
    """A plain file, unchanged since it was read, with no other name that could still
    change it (no symlink, no second hard link)."""
    try:
        stat = os.lstat(landed)
    except OSError:
        return False
    return (
        S_ISREG(stat.st_mode)
        and stat.st_nlink == 1
        and identity.size == size
        and FileIdentity.of(stat) == identity
    )


_TEMPORARIES = ".*.tmp"  # what a write leaves until its rename


def _temporary(folder: str) -> str:
    return f"{folder}/.{uuid.uuid4().hex}.tmp"


class Lake:
    def __init__(self, url: str) -> None:
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.url = url
        self.local = isinstance(self.fs, LocalFileSystem)
        self._folders: set[str] = set()  # made already (by this process)

    def partition(self, workflow: str, day: str) -> str:
        return f"{self.root.rstrip('/')}/{workflow}/date={day}"

    def image_path(self, workflow: str, day: str, sha256: str, ext: str) -> str:
        return f"{self.partition(workflow, day)}/{sha256}.{ext}"

    def put(self, path: str, data: bytes) -> None:
        """Write whole or not at all: a temporary name, then a rename (object stores
        write objects atomically anyway)."""
        folder = self._folder_of(path)
        tmp = _temporary(folder)
        try:
            self._write(tmp, data)
        except FileNotFoundError:  # the folder was removed since this process made it
            self.fs.makedirs(folder, exist_ok=True)
            self._write(tmp, data)
        if self.local:
            os.replace(tmp, path)
        else:
            self.fs.mv(tmp, path)

    def put_landed(self, path: str, landed: Path, data: bytes, identity: FileIdentity) -> None:
        """Store `data`, read from the landed file `landed` as `identity`. In a local lake
        on the same filesystem, a hard link to that file: no copy, and no inode to
        allocate while the landing file's is freed (at thousands of files a second,
        ext4's search for a free inode that was not freed recently dominates). Written
        as bytes if the file changed since it was read, or where a link cannot be made."""
        if self.local and _linkable(landed, identity, len(data)):
            folder = self._folder_of(path)
            tmp = _temporary(folder)
            try:
                os.link(landed, tmp, follow_symlinks=False)
            except OSError:  # another filesystem, no hard links here, or gone
                pass
            else:
                if FileIdentity.of(os.stat(tmp)) == identity:
                    os.replace(tmp, path)
                    return
                os.unlink(tmp)  # rewritten since it was read: store what was classified
        self.put(path, data)

    def sweep_temporaries(self, workflow: str, day: str, older_than_s: float = 600) -> int:
        """Remove the temporary files that a writer killed between write and rename left
        in one local partition (live writers rename theirs within milliseconds)."""
        if not self.local:
            return 0  # object stores write whole objects: nothing is left half-way
        folder = Path(self.partition(workflow, day))
        if not folder.is_dir():
            return 0
        cutoff = time.time() - older_than_s
        removed = 0
        for tmp in folder.glob(_TEMPORARIES):
            with suppress(FileNotFoundError):
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
                    removed += 1
        return removed

    def _folder_of(self, path: str) -> str:
        folder = path.rsplit("/", 1)[0]
        if folder not in self._folders:
            self.fs.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        return folder

    def _write(self, path: str, data: bytes) -> None:
        # Locally without fsspec's file objects: the watcher writes thousands a second.
        with open(path, "wb") if self.local else self.fs.open(path, "wb") as handle:
            handle.write(data)

    def read(self, path: str) -> bytes:
        with self.fs.open(path, "rb") as handle:
            return handle.read()

    def write_manifest(self, workflow: str, day: str, rows: list[dict[str, Any]]) -> str:
        table = pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA)
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        path = f"{self.partition(workflow, day)}/{MANIFEST}"
        self.put(path, buffer.getvalue())
        return path
