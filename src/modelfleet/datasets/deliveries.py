"""Monthly deliveries: the training data a station hands over, one folder a month.

    <deliveries>/<wf>/<YYYY-MM>/<split>/<label>/<file>      split: train | holdout

The folder a file lies in is its label. A month nobody delivered is written from
the workflow's data source (the simulated station) the first time it is needed.
Validation quarantines bad files out of here, so a re-run sees the clean rest.
What is written here is private to the platform's user: files 0600, folders 0700.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from modelfleet.datasets.base import LabeledImage, WorkflowData
from modelfleet.datasets.folder import FolderSource
from modelfleet.datasets.sources import source_for
from modelfleet.errors import DataError
from modelfleet.fileops import private_dir, quarantine_into, write_private

SPLITS = ("train", "holdout")


@dataclass(frozen=True)
class DeliveredFile:
    split: str
    label: str  # "" for a file lying directly in the split folder (no label)
    path: Path

    @property
    def name_in_split(self) -> str:
        """`<label>/<file>` (or `<file>`), unique within the split of one month."""
        return self.path.name if not self.label else f"{self.label}/{self.path.name}"


def month_dir(root: Path, workflow: str, month: str) -> Path:
    return root / workflow / month


def ensure_delivered(workflow: WorkflowData, month: str, root: Path) -> Path:
    """The month's delivery folder, written from the data source if absent."""
    folder = month_dir(root, workflow.name, month)
    if folder.exists():
        return folder
    private_dir(folder.parent, under=root)
    write_delivery(workflow, month, folder)
    return folder


def write_delivery(workflow: WorkflowData, month: str, folder: Path) -> dict[str, int]:
    """Write the source's images for `month` in the delivery layout, atomically."""
    if folder.exists():
        raise DataError(f"{folder} exists; remove it first to deliver {month} again")
    source = source_for(workflow)
    tmp = folder.with_name(f".{folder.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    if isinstance(source, FolderSource):  # the user's files, copied one by one
        try:
            counts = source.deliver(month, tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        folder.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, folder)
        return {name: counts.total(name) for name in SPLITS}
    split = source.month(month)
    images: dict[str, list[LabeledImage]] = {"train": split.train, "holdout": split.holdout}
    made: set[Path] = set()
    for name, batch in images.items():
        for image in batch:
            target = tmp / name / image.label / image.name
            if target.parent not in made:
                made.add(private_dir(target.parent, under=tmp))
            write_private(target, image.data)
    folder.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, folder)
    return {name: len(batch) for name, batch in images.items()}


def delivered_files(folder: Path) -> list[DeliveredFile]:
    """Every file of a delivery, hidden ones included: nothing is skipped unseen."""
    if not (folder / "train").is_dir():
        raise DataError(f"delivery {folder} has no train/ folder")
    files = []
    for split in SPLITS:
        split_dir = folder / split
        if not split_dir.is_dir():
            continue
        for path in sorted(p for p in split_dir.rglob("*") if p.is_file()):
            parts = path.relative_to(split_dir).parts
            if len(parts) > 2:
                raise DataError(
                    f"{path}: expected <split>/<label>/<file>, found nested folders; "
                    "move the file up to its label folder"
                )
            files.append(DeliveredFile(split, parts[0] if len(parts) == 2 else "", path))
    return files


def quarantine_delivered(
    quarantine: Path, workflow: str, month: str, file: DeliveredFile, reason: str
) -> Path:
    """Move a bad file to `quarantine/<wf>/<month>/<split>/<label>/` beside its reason."""
    folder = quarantine / workflow / month / file.split / (file.label or "_unlabelled")
    private_dir(folder, under=quarantine)
    return quarantine_into(folder, file.path, reason)
