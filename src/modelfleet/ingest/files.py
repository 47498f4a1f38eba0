"""Which landed files are ready, and where finished files go."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from modelfleet.fileops import quarantine_into, write_atomic

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
        if now - path.stat().st_mtime >= SETTLE_S:
            ready.append(path)
    return ready


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def strip_metadata(data: bytes) -> tuple[bytes, str]:
    """Re-encode without EXIF (GPS etc.); returns (bytes, file extension)."""
    with Image.open(io.BytesIO(data)) as image:
        fmt = (image.format or "PNG").upper()
        if fmt not in ("PNG", "JPEG", "BMP", "TIFF", "WEBP", "GIF"):
            fmt = "PNG"
        out = io.BytesIO()
        image.save(out, format=fmt)
    return out.getvalue(), {"JPEG": "jpg"}.get(fmt, fmt.lower())


def store_in_lake(
    lake: Path, workflow: str, sha256: str, data: bytes, record: dict[str, Any]
) -> Path:
    """Write the image and its prediction record under lake/<wf>/date=<day>/."""
    clean, ext = strip_metadata(data)
    folder = lake / workflow / f"date={today()}"
    image_path = folder / f"{sha256}.{ext}"
    write_atomic(image_path, clean)
    write_atomic(folder / f"{sha256}.json", json.dumps(record, indent=1).encode())
    return image_path


def move_to_quarantine(quarantine: Path, workflow: str, source: Path, reason: str) -> Path:
    return quarantine_into(quarantine / workflow / today(), source, reason)
