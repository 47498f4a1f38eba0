"""The lake: classified images and a Parquet manifest per partition, through fsspec.

Layout (any fsspec URL: a local path, file://, s3://, hdfs://):

    <lake>/<wf>/date=YYYY-MM-DD/<sha256>.<ext>      the image, EXIF stripped (by the stream)
    <lake>/<wf>/date=YYYY-MM-DD/manifest.parquet    one row per image of the partition

`<sha256>` is the hash of the file as it arrived (before stripping), the key
`modelfleet lineage` accepts. The manifest is rewritten from Postgres (the
source of truth) after each batch, so it can always be rebuilt. A local lake is
private to the platform's user: files 0600, folders 0700.

Every image is written from the bytes that were read and classified, never linked
to the landing file: a link would share the producer's inode (its owner and mode,
and any descriptor still open on it for writing) and give the landing file a second
name, which the landing scan refuses (docs/decisions.md, Streaming).
"""

from __future__ import annotations

import io
import os
import time
import uuid
from contextlib import suppress
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from modelfleet.fileops import private_dir, write_private

MANIFEST = "manifest.parquet"
MANIFEST_SCHEMA = pa.schema(
    [
        ("sha256", pa.string()),
        ("path", pa.string()),
        ("source", pa.string()),  # the landing name, escaped for display
        ("source_raw", pa.binary()),  # its bytes as the filesystem held them
        ("label", pa.string()),
        ("score", pa.float64()),
        ("scores_json", pa.string()),
        ("model_version", pa.string()),
        ("received_at", pa.timestamp("us", tz="UTC")),
        ("classified_at", pa.timestamp("us", tz="UTC")),
    ]
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
            self._make_folder(folder)
            self._write(tmp, data)
        if self.local:
            os.replace(tmp, path)
        else:
            self.fs.mv(tmp, path)

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
            self._make_folder(folder)
            self._folders.add(folder)
        return folder

    def _make_folder(self, folder: str) -> None:
        if self.local:
            private_dir(Path(folder), under=Path(self.root))
        else:
            self.fs.makedirs(folder, exist_ok=True)

    def _write(self, path: str, data: bytes) -> None:
        if self.local:  # without fsspec's file objects: the watcher writes thousands a second
            write_private(Path(path), data)
            return
        with self.fs.open(path, "wb") as handle:
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
