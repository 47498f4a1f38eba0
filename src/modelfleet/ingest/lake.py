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
import uuid
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

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
    """Re-encode without EXIF, GPS or other metadata; returns (bytes, extension)."""
    with Image.open(io.BytesIO(data)) as image:
        fmt = image.format if image.format in _SAVE_FORMATS else "PNG"
        out = io.BytesIO()
        # Only pixels (and the palette) are carried over: no exif=, no info dict.
        if fmt == "JPEG":
            image.save(out, format="JPEG", quality=95)
        else:
            image.save(out, format=fmt)
    return out.getvalue(), _SAVE_FORMATS[fmt]


class Lake:
    def __init__(self, url: str) -> None:
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.url = url

    def partition(self, workflow: str, day: str) -> str:
        return f"{self.root.rstrip('/')}/{workflow}/date={day}"

    def image_path(self, workflow: str, day: str, sha256: str, ext: str) -> str:
        return f"{self.partition(workflow, day)}/{sha256}.{ext}"

    def put(self, path: str, data: bytes) -> None:
        """Write whole or not at all: a temporary name, then a rename (object stores
        write objects atomically anyway)."""
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        tmp = f"{path.rsplit('/', 1)[0]}/.{uuid.uuid4().hex}.tmp"
        with self.fs.open(tmp, "wb") as handle:
            handle.write(data)
        self.fs.mv(tmp, path)

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
