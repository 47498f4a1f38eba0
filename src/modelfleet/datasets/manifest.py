"""Manifests: one CSV row per image file, built by reading the real bytes.

Undecodable files are rows too (decoded False, with the error), so validation sees
them instead of their silently vanishing.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from modelfleet.errors import DataError
from modelfleet.imaging import channels_of, decode

MANIFEST_NAME = "manifest.csv"


@dataclass(frozen=True)
class ManifestRow:
    path: str  # relative to the manifest's directory
    sha256: str
    label: str
    month: str  # the delivery the file came in, YYYY-MM
    width: int
    height: int
    channels: int
    mode: str
    bytes: int
    decoded: bool
    error: str
    brightness: float  # mean grey level in [0, 1]; NaN when undecodable
    contrast: float  # standard deviation of the grey levels in [0, 1]


COLUMNS = [f.name for f in fields(ManifestRow)]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe(root: Path, relpath: str, label: str, month: str) -> ManifestRow:
    """Read one file and describe it; undecodable files are rows too."""
    data = (root / relpath).read_bytes()
    try:
        image = decode(data)
    except DataError as exc:
        nan = float("nan")
        return ManifestRow(
            path=relpath,
            sha256=sha256_bytes(data),
            label=label,
            month=month,
            width=0,
            height=0,
            channels=0,
            mode="",
            bytes=len(data),
            decoded=False,
            error=str(exc),
            brightness=nan,
            contrast=nan,
        )
    grey = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    return ManifestRow(
        path=relpath,
        sha256=sha256_bytes(data),
        label=label,
        month=month,
        width=image.width,
        height=image.height,
        channels=channels_of(image),
        mode=image.mode,
        bytes=len(data),
        decoded=True,
        error="",
        brightness=round(float(grey.mean()), 6),
        contrast=round(float(grey.std()), 6),
    )


def write_manifest(root: Path, rows: list[ManifestRow]) -> Path:
    path = root / MANIFEST_NAME
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in sorted(rows, key=lambda r: r.path):
            writer.writerow(asdict(row))
    return path


def read_manifest(root: Path) -> list[ManifestRow]:
    path = root / MANIFEST_NAME
    if not path.exists():
        raise DataError(f"no manifest at {path}")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != COLUMNS:
            raise DataError(f"{path}: columns {reader.fieldnames} are not {COLUMNS}")
        return [
            ManifestRow(
                path=r["path"],
                sha256=r["sha256"],
                label=r["label"],
                month=r["month"],
                width=int(r["width"]),
                height=int(r["height"]),
                channels=int(r["channels"]),
                mode=r["mode"],
                bytes=int(r["bytes"]),
                decoded=r["decoded"] == "True",
                error=r["error"],
                brightness=float(r["brightness"]),
                contrast=float(r["contrast"]),
            )
            for r in reader
        ]
