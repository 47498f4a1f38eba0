"""Materialise the data a month's model trains on, as image folders plus manifests.

In the model repository (`data/<wf>/<split>/`, DVC-tracked):

    train/<YYYY-MM>/<label>/<file>   every month of the training window
    holdout/<label>/<file>           this month's holdout
    test/<file>                      the frozen test set (never changes)

Train and holdout are copied from the monthly deliveries, so the repository
snapshot cannot change under a run when a delivery folder does.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from modelfleet.config import Workflow
from modelfleet.datasets.deliveries import (
    DeliveredFile,
    delivered_files,
    ensure_delivered,
    month_dir,
)
from modelfleet.datasets.manifest import ManifestRow, describe, sha256_file, write_manifest
from modelfleet.datasets.sources import source_for
from modelfleet.fileops import private_dir
from modelfleet.months import add_months, month_index
from modelfleet.versioning.naming import data_dir


@dataclass(frozen=True)
class SplitSnapshot:
    split: str
    path: Path
    rows: list[ManifestRow]
    manifest_sha256: str


def training_months(workflow: Workflow, month: str) -> list[str]:
    """The months a model for `month` trains on: a window ending at `month`."""
    first_index = max(
        0, month_index(month, workflow.source.start_month) - workflow.params.window_months + 1
    )
    first = add_months(workflow.source.start_month, first_index)
    return [add_months(first, i) for i in range(month_index(month, first) + 1)]


def materialise(
    workflow: Workflow,
    month: str,
    repo: Path,
    deliveries: Path,
    skip_months: frozenset[str] = frozenset(),
) -> dict[str, SplitSnapshot]:
    """Write train (the window, less `skip_months`), holdout and test into `repo`.

    `skip_months` are earlier months whose data failed validation: they stay out
    of later windows until delivered again and validated.
    """
    private_dir(repo / "data")
    train: list[tuple[str, DeliveredFile]] = []
    for earlier in training_months(workflow, month):
        if earlier != month and earlier in skip_months:
            continue
        folder = ensure_delivered(workflow, earlier, deliveries)
        train += [(earlier, f) for f in delivered_files(folder) if f.split == "train"]
    folder = ensure_delivered(workflow, month, deliveries)
    holdout = [f for f in delivered_files(folder) if f.split == "holdout"]
    snapshots = {
        "train": _copy_split(
            repo / data_dir(workflow.name, "train"),
            [(f"{m}/{f.name_in_split}", f.label, m, f.path) for m, f in train],
        ),
        "holdout": _copy_split(
            repo / data_dir(workflow.name, "holdout"),
            [(f.name_in_split, f.label, month, f.path) for f in holdout],
        ),
    }
    snapshots["test"] = _write_test_set(workflow, repo / data_dir(workflow.name, "test"))
    return snapshots


def delivered_file(
    deliveries: Path, workflow: str, month: str, split: str, path: str
) -> tuple[str, DeliveredFile]:
    """The delivery (month, file) a snapshot row at `<split>/<path>` was copied from."""
    file_month, rest = path.split("/", 1) if split == "train" else (month, path)
    label, _, name = rest.rpartition("/")
    folder = month_dir(deliveries, workflow, file_month) / split
    return file_month, DeliveredFile(split, label, folder / rest if label else folder / name)


def _copy_split(root: Path, files: list[tuple[str, str, str, Path]]) -> SplitSnapshot:
    """Copy (relpath, label, month, source) files under `root` and describe each."""
    _reset(root)
    rows = []
    for relpath, label, month, source in files:
        target = root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        rows.append(describe(root, relpath, label, month))
    return _finish(root, rows)


def _write_test_set(workflow: Workflow, root: Path) -> SplitSnapshot:
    _reset(root)
    rows = []
    for image in source_for(workflow).test_set():
        (root / image.name).write_bytes(image.data)
        rows.append(describe(root, image.name, image.label, month=""))
    return _finish(root, rows)


def _reset(root: Path) -> None:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)


def _finish(root: Path, rows: list[ManifestRow]) -> SplitSnapshot:
    manifest = write_manifest(root, rows)
    return SplitSnapshot(root.name, root, rows, sha256_file(manifest))
