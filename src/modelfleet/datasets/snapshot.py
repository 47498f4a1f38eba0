"""Materialise one month of a workflow as image folders plus manifests."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from modelfleet.config import Workflow
from modelfleet.datasets.manifest import (
    ManifestRow,
    describe,
    sha256_file,
    write_manifest,
)
from modelfleet.datasets.sources import LabeledImage, source_for
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


def materialise(workflow: Workflow, month: str, repo: Path) -> dict[str, SplitSnapshot]:
    """Write train (window), holdout (this month) and the frozen test set into `repo`."""
    source = source_for(workflow)
    this_month = source.month(month)
    train: list[LabeledImage] = []
    for earlier in training_months(workflow, month)[:-1]:
        train.extend(source.month(earlier).train)
    train.extend(this_month.train)
    images = {"train": train, "holdout": this_month.holdout, "test": source.test_set()}
    return {
        split: _write_split(repo / data_dir(workflow.name, split), split, batch)
        for split, batch in images.items()
    }


def write_month(workflow: Workflow, month: str, out: Path) -> dict[str, int]:
    """One month's train and holdout images (plus manifests) under `out`."""
    split = source_for(workflow).month(month)
    written = {
        "train": _write_split(out / "train", "train", split.train),
        "holdout": _write_split(out / "holdout", "holdout", split.holdout),
    }
    return {name: len(snap.rows) for name, snap in written.items()}


def _write_split(root: Path, split: str, images: list[LabeledImage]) -> SplitSnapshot:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    rows = []
    for image in images:
        (root / image.name).write_bytes(image.data)
        rows.append(describe(root, image.name, image.label))
    manifest = write_manifest(root, rows)
    return SplitSnapshot(split, root, rows, sha256_file(manifest))
