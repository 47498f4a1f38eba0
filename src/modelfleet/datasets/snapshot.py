"""Materialise the data a month's model trains on, as image folders plus manifests.

In the model repository (`data/<wf>/<split>/`, DVC-tracked):

    train/<YYYY-MM>/<label>/<file>   every month of the training window
    holdout/<label>/<file>           this month's holdout
    test/<file>                      the frozen test set (never changes)

Train and holdout are copied from the monthly deliveries, so the repository
snapshot cannot change under a run when a delivery folder does; the test set is
rendered once per workflow and source config (`<deliveries>/<wf>/test-set-<key>/`) and
copied likewise.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from modelfleet.datasets.base import WorkflowData
from modelfleet.datasets.deliveries import (
    DeliveredFile,
    delivered_files,
    ensure_delivered,
    month_dir,
)
from modelfleet.datasets.folder import FolderSource
from modelfleet.datasets.manifest import (
    MANIFEST_NAME,
    ManifestRow,
    describe,
    read_manifest,
    sha256_file,
    write_manifest,
)
from modelfleet.datasets.sources import source_for
from modelfleet.errors import NoDataForMonth
from modelfleet.fileops import private_dir
from modelfleet.months import add_months, month_index
from modelfleet.naming import data_dir


@dataclass(frozen=True)
class SplitSnapshot:
    split: str
    path: Path
    rows: list[ManifestRow]
    manifest_sha256: str


class TrainingWindow(Protocol):
    @property
    def window_months(self) -> int: ...


class WindowedWorkflow(WorkflowData, Protocol):
    """A workflow with its training window (`params.window_months`); `config.Workflow`
    is one."""

    @property
    def params(self) -> TrainingWindow: ...


def training_months(workflow: WindowedWorkflow, month: str) -> list[str]:
    """The months a model for `month` trains on: a window ending at `month`, from the
    source's first month on (a folder source without `start_month` has none)."""
    first = add_months(month, 1 - workflow.params.window_months)
    start = workflow.source.start_month
    if start is not None and month_index(first, start) < 0:
        first = start
    return [add_months(first, i) for i in range(month_index(month, first) + 1)]


def materialise(
    workflow: WindowedWorkflow,
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
        try:
            folder = ensure_delivered(workflow, earlier, deliveries)
        except NoDataForMonth:
            if earlier == month:
                raise
            continue  # a gap in the user's months: the window holds what there is
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
    test_set = ensure_test_set(workflow, deliveries)
    test_rows = read_manifest(test_set)
    snapshots["test"] = _copy_split(
        repo / data_dir(workflow.name, "test"),
        [(row.path, row.label, row.month, test_set / row.path) for row in test_rows],
        described={row.path: row for row in test_rows},
    )
    return snapshots


def extend_split(
    snapshot: SplitSnapshot, files: list[tuple[str, str, str, bytes]]
) -> SplitSnapshot:
    """Write (relpath, label, month, data) files into a materialised split, describe
    them and rewrite its manifest (labelled lake images joining train)."""
    rows = list(snapshot.rows)
    for relpath, label, month, data in files:
        target = snapshot.path / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        rows.append(describe(snapshot.path, relpath, label, month))
    return _finish(snapshot.path, rows)


def delivered_file(
    deliveries: Path, workflow: str, month: str, split: str, path: str
) -> tuple[str, DeliveredFile]:
    """The delivery (month, file) a snapshot row at `<split>/<path>` was copied from."""
    file_month, rest = path.split("/", 1) if split == "train" else (month, path)
    label, _, name = rest.rpartition("/")
    folder = month_dir(deliveries, workflow, file_month) / split
    return file_month, DeliveredFile(split, label, folder / rest if label else folder / name)


def _copy_split(
    root: Path,
    files: list[tuple[str, str, str, Path]],
    described: dict[str, ManifestRow] | None = None,
) -> SplitSnapshot:
    """Copy (relpath, label, month, source) files under `root` and describe each, unless
    `described` has its row already (the cached test set: a tampered copy fails
    `verify_split` before training)."""
    _reset(root)
    rows = []
    for relpath, label, month, source in files:
        target = root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        known = (described or {}).get(relpath)
        rows.append(known or describe(root, relpath, label, month))
    return _finish(root, rows)


def frozen_test_set_dir(deliveries: Path, workflow: WorkflowData) -> Path:
    """The workflow's frozen test set, written once beside its deliveries, in a folder
    named after what it is rendered from: a changed `source`, class list or input shape
    renders a new one, as it did when every snapshot rendered it."""
    rendered_from = json.dumps(
        {
            # whether labelled lake images train too changes no test image
            "source": workflow.source.model_dump(mode="json", exclude={"include_labelled"}),
            "classes": list(workflow.classes),
            "input_shape": list(workflow.input_shape),
        },
        sort_keys=True,
    )
    key = hashlib.sha256(rendered_from.encode()).hexdigest()[:12]
    return deliveries / workflow.name / f"test-set-{key}"


def ensure_test_set(workflow: WorkflowData, deliveries: Path) -> Path:
    """Render the source's test set once (with its manifest); every snapshot copies it.

    Rendering 400 images took about a second of each run's snapshot.
    """
    folder = frozen_test_set_dir(deliveries, workflow)
    if (folder / MANIFEST_NAME).exists():
        return folder
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    _reset(tmp)
    source = source_for(workflow)
    if isinstance(source, FolderSource):  # the user's files, copied one by one
        written = source.write_test_set(tmp)
    else:
        written = []
        for image in source.test_set():
            (tmp / image.name).write_bytes(image.data)
            written.append((image.name, image.label))
    write_manifest(tmp, [describe(tmp, name, label, month="") for name, label in written])
    if folder.exists():  # an interrupted earlier attempt left no manifest
        shutil.rmtree(folder)
    try:
        os.replace(tmp, folder)
    except OSError:  # another run wrote it first: the same images
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _reset(root: Path) -> None:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)


def _finish(root: Path, rows: list[ManifestRow]) -> SplitSnapshot:
    manifest = write_manifest(root, rows)
    return SplitSnapshot(root.name, root, rows, sha256_file(manifest))
