"""Labelled lake images join a month's training data (`source.include_labelled`).

The snapshot copies each labelled image from the lake into the train split, at
`train/labelled/<label>/<sha256>.<ext>` with the run's month, so that it goes through
the same validation as the month's delivery and DVC tracks it with the rest (`dvc
repro` of the version reproduces without the lake). Only labels given up to the run's
data-interval end count, each image with its latest label as of then.

Left out, and reported (the task log and `dataset_version.labelled`): images in the
frozen test set (by the sha256 they arrived with or the one they are stored with; they
would fail the leakage check), duplicates of an image the window already holds, and
images not (or no longer) in the lake.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from modelfleet.datasets.manifest import sha256_bytes
from modelfleet.datasets.snapshot import SplitSnapshot, extend_split
from modelfleet.lake import Lake
from modelfleet.months import add_months
from modelfleet.pipeline.context import RunContext
from modelfleet.registry import db
from modelfleet.registry.store import labels

LABELLED_DIR = "labelled"  # under the train split; never a month (YYYY-MM)


def cut_off(ctx: RunContext) -> datetime:
    """Labels given up to here count: the run's data-interval end, else the month's end."""
    if ctx.labels_until is not None:
        return ctx.labels_until
    year, month = (int(part) for part in add_months(ctx.month, 1).split("-"))
    return datetime(year, month, 1, tzinfo=UTC)


def add_labelled(
    ctx: RunContext, splits: dict[str, SplitSnapshot]
) -> tuple[dict[str, SplitSnapshot], dict[str, Any] | None]:
    """The splits with the labelled lake images added to train, and the record of what
    was taken and left out (None when the source does not include labelled images)."""
    if not ctx.workflow.source.include_labelled:
        return splits, None
    until = cut_off(ctx)
    with Session(db.engine()) as session:
        given = labels.labels_until(session, ctx.workflow_name, until)
        paths = labels.stored_paths(session, ctx.workflow_name, given)
    test = {row.sha256 for row in splits["test"].rows}
    held = {row.sha256 for row in splits["train"].rows}
    left_out: dict[str, list[str]] = {"test_set": [], "duplicate": [], "missing": []}
    files: list[tuple[str, str, str, bytes]] = []
    included: list[str] = []
    lake = Lake(ctx.settings.lake_url) if paths else None
    for sha, label in sorted(given.items()):
        if sha in test:
            left_out["test_set"].append(sha)
            continue
        path = paths.get(sha)
        data = _read(lake, path)
        if data is None:
            left_out["missing"].append(sha)
            continue
        stored = sha256_bytes(data)
        if stored in test:
            left_out["test_set"].append(sha)
        elif stored in held:
            left_out["duplicate"].append(sha)
        else:
            held.add(stored)
            included.append(sha)
            ext = path.rsplit(".", 1)[-1] if path and "." in path.rsplit("/", 1)[-1] else "png"
            files.append((f"{LABELLED_DIR}/{label}/{sha}.{ext}", label, ctx.month, data))
    if files:
        splits = {**splits, "train": extend_split(splits["train"], files)}
    record = {
        "until": until.isoformat(),
        "included": included,
        "left_out": left_out,
    }
    if given:  # a workflow nobody labelled says nothing in the task log
        print(f"labelled lake images (labels up to {until.isoformat()}): {len(files)} join train")
    for reason, shas in left_out.items():
        if shas:
            print(f"  left out ({reason.replace('_', ' ')}): {len(shas)}: {', '.join(shas[:10])}")
    return splits, record


def _read(lake: Lake | None, path: str | None) -> bytes | None:
    if lake is None or path is None:
        return None
    try:
        return lake.read(path)
    except FileNotFoundError:
        return None
