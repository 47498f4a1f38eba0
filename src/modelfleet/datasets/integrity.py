"""Tamper detection: the files on disk are exactly the ones their manifest lists."""

from __future__ import annotations

from pathlib import Path

from modelfleet.datasets.manifest import MANIFEST_NAME, ManifestRow, read_manifest, sha256_file
from modelfleet.errors import TamperedData

_LISTED = 10  # paths named per kind of change in the error


def verify_split(root: Path) -> list[ManifestRow]:
    """Re-hash every file under `root` against its manifest; return the rows.

    Raises TamperedData naming files changed, added or removed since the manifest
    was written (and validated).
    """
    rows = read_manifest(root)
    listed = {row.path: row.sha256 for row in rows}
    present = {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and path.name != MANIFEST_NAME
    }
    problems = {
        "changed": sorted(p for p in listed.keys() & present if sha256_file(root / p) != listed[p]),
        "added": sorted(present - listed.keys()),
        "removed": sorted(listed.keys() - present),
    }
    if any(problems.values()):
        detail = "; ".join(
            f"{len(paths)} {kind} ({', '.join(paths[:_LISTED])}{', ...' if len(paths) > _LISTED else ''})"
            for kind, paths in problems.items()
            if paths
        )
        raise TamperedData(f"{root} no longer matches its validated manifest: {detail}")
    return rows
