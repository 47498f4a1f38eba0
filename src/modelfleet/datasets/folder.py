"""The `folder` data source: your own labelled images, in a folder or a bucket.

    <url>/<YYYY-MM>/<label>/<file>                     one folder a month, or
    <url>/<YYYY-MM>/{train,holdout}/<label>/<file>     with your own holdout
    <url>/test/<label>/<file>                          the frozen test set

`url` is a local path or any fsspec URL (file://, s3://, ...). The test set may
instead sit at its own URL (`test:`, holding `<label>/<file>`), or be carved out
of the months by file hash (`test_fraction`): a file whose bytes hash into that
share is test data, in every month, and is never trained on. Without a holdout
folder a month's holdout is chosen by file hash too, so a month always splits the
same way.

Nothing under `url` is ever written, moved or deleted: a month is copied into the
platform's deliveries (`datasets.deliveries`) and validation and quarantine act on
the copy. The files keep their original bytes; `imaging.to_model_input` fits them
to the input shape at train, evaluate and serve time.

What the folder holds is read from one listing (`datasets.folder_listing`); the
bytes are read when a month is copied.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from modelfleet.datasets.base import LabeledImage, MonthSplit, WorkflowData, source_config
from modelfleet.datasets.folder_listing import (
    SPLITS,
    TEST,
    FolderFile,
    FolderListing,
    MonthListing,
    list_folder,
)
from modelfleet.datasets.folder_location import Location, open_location
from modelfleet.datasets.specs import FolderSourceConfig
from modelfleet.errors import DataError, NoDataForMonth
from modelfleet.fileops import private_dir, write_private
from modelfleet.months import add_months, month_index

_READ_BATCH = 32  # files fetched at once (concurrently on object stores)


# -- deterministic shares by file hash --


def hash_share(sha256: str, purpose: str) -> float:
    """Where a file's bytes fall in [0, 1) for `purpose` ("test", "holdout"): the same
    file always falls in the same place, and the purposes are independent."""
    digest = hashlib.sha256(f"{purpose}:{sha256}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def in_test_share(sha256: str, test_fraction: float | None) -> bool:
    return test_fraction is not None and hash_share(sha256, "test") < test_fraction


# -- reading and copying --


def read_files(location: Location, files: list[FolderFile]) -> Iterator[tuple[FolderFile, bytes]]:
    """Each file with its bytes, in order; object stores fetch a batch at once."""
    for start in range(0, len(files), _READ_BATCH):
        batch = files[start : start + _READ_BATCH]
        blobs = location.read_many([f.path for f in batch])
        yield from ((f, blobs[f.path]) for f in batch)


@dataclass
class CopyCounts:
    """What a copy wrote: images per split and label, bytes, and the test share skipped."""

    images: dict[str, dict[str, int]] = field(default_factory=dict)
    bytes: int = 0
    held_for_test: int = 0

    def add(self, split: str, label: str, size: int) -> None:
        per_label = self.images.setdefault(split, {})
        per_label[label] = per_label.get(label, 0) + 1
        self.bytes += size

    def total(self, split: str) -> int:
        return sum(self.images.get(split, {}).values())


def copy_month(
    location: Location,
    month: MonthListing,
    target: Path,
    *,
    holdout_fraction: float,
    test_fraction: float | None = None,
) -> CopyCounts:
    """Copy a month's images to `target/<split>/<label>/<file>` (private files).

    Files in the test share (`test_fraction`) are skipped. Without a holdout folder a
    file goes to holdout when its hash falls in `holdout_fraction`; at least one file
    does, if the month has two or more.
    """
    counts = CopyCounts()
    private_dir(target / "train", under=target)
    made: set[Path] = set()
    by_hash: list[tuple[float, Path, str]] = []
    for file, data in read_files(location, month.files):
        sha = hashlib.sha256(data).hexdigest()
        if in_test_share(sha, test_fraction):
            counts.held_for_test += 1
            continue
        split = file.split
        if split is None:
            share = hash_share(sha, "holdout")
            split = "holdout" if share < holdout_fraction else "train"
            by_hash.append((share, target / split / file.label / file.name, file.label))
        folder = target / split / file.label
        if folder not in made:
            made.add(private_dir(folder, under=target))
        write_private(folder / file.name, data)
        counts.add(split, file.label, len(data))
    if by_hash and counts.total("holdout") == 0 and counts.total("train") >= 2:
        _, path, label = min(by_hash)
        private_dir(target / "holdout" / label, under=target)
        path.rename(target / "holdout" / label / path.name)
        counts.images["train"][label] -= 1
        counts.add("holdout", label, 0)
    return counts


class FolderSource:
    """A workflow's `folder` source: discovered months, copied on demand."""

    def __init__(self, workflow: WorkflowData) -> None:
        self.workflow = workflow
        self.config = source_config(workflow, FolderSourceConfig, "a folder")

    @cached_property
    def listing(self) -> FolderListing:
        return list_folder(self.config.url, self.config.test)

    def months(self) -> list[str]:
        """The months the folder holds, within `start_month` and `months` if set."""
        return [m for m in self.listing.months if self._in_range(m)]

    def _in_range(self, month: str) -> bool:
        start, count = self.config.start_month, self.config.months
        if start is None:
            return True
        last = None if count is None else add_months(start, count - 1)
        return month_index(month, start) >= 0 and (last is None or month <= last)

    def month_listing(self, month: str) -> MonthListing:
        """The month's files, checked: NoDataForMonth without a folder; DataError naming
        the path for a broken layout or a label that is not a class."""
        listing = self.listing
        if month not in listing.months or not self._in_range(month):
            held = self.months()
            raise NoDataForMonth(
                f"workflow {self.workflow.name!r}: no data for month {month}: "
                f"{listing.location.child(month)}/ does not exist"
                + (f" (months there: {', '.join(held)})" if held else "")
            )
        part = listing.months[month]
        part.check()
        self._check_labels(part)
        return part

    def _check_labels(self, part: MonthListing) -> None:
        unknown = sorted(set(part.labels) - set(self.workflow.classes))
        if unknown:
            raise DataError(
                f"{part.location}: label folders {unknown} are not classes of workflow "
                f"{self.workflow.name!r} ({', '.join(self.workflow.classes)}); add them to its "
                "classes (a new class set is a new major version) or move them out"
            )

    def deliver(self, month: str, target: Path) -> CopyCounts:
        """Copy `month` into a delivery folder `target` (train/ and holdout/)."""
        return copy_month(
            self.listing.location,
            self.month_listing(month),
            target,
            holdout_fraction=self.config.holdout_fraction,
            test_fraction=self.config.test_fraction,
        )

    def month(self, month: str) -> MonthSplit:
        """The month in memory (small folders, tests); `deliver` streams instead."""
        with tempfile.TemporaryDirectory() as tmp:
            self.deliver(month, Path(tmp))
            return MonthSplit(*(_read_back(Path(tmp) / split) for split in SPLITS))

    def test_files(self) -> tuple[Location, list[FolderFile], str]:
        """Where the frozen test set comes from: (location, files, relpath prefix rule)."""
        listing, config = self.listing, self.config
        if listing.test is not None:
            if config.test_fraction is not None:
                raise DataError(
                    f"workflow {self.workflow.name!r}: {listing.test.location} is a test set "
                    "and test_fraction is set too; keep one of them"
                )
            listing.test.check()
            self._check_labels(listing.test)
            location = open_location(config.test) if config.test else listing.location
            return location, listing.test.files, "test"
        if config.test_fraction is None:
            raise DataError(
                f"workflow {self.workflow.name!r}: {listing.location.child(TEST)}/ does not "
                "exist; add a test set there (<label>/<file>), set the source's `test:` to "
                "its URL, or set `test_fraction` to carve one out of the months"
            )
        files = []
        for month in self.months():
            part = self.month_listing(month)
            files += part.files
        return listing.location, files, "carved"

    def write_test_set(self, target: Path) -> list[tuple[str, str]]:
        """Copy the frozen test set to `target/<label>/<file>`; returns (relpath, label)."""
        location, files, kind = self.test_files()
        written: list[tuple[str, str]] = []
        made: set[Path] = set()
        for file, data in read_files(location, files):
            if kind == "carved" and not in_test_share(
                hashlib.sha256(data).hexdigest(), self.config.test_fraction
            ):
                continue
            # carved files of several months may share a name
            name = f"{file.month}_{file.name}" if kind == "carved" else file.name
            folder = target / file.label
            if folder not in made:
                made.add(private_dir(folder, under=target))
            write_private(folder / name, data)
            written.append((f"{file.label}/{name}", file.label))
        if not written:
            raise DataError(
                f"workflow {self.workflow.name!r}: the test set of {self.config.url} is empty"
                + (
                    f"; no file's hash fell in test_fraction {self.config.test_fraction}"
                    if kind == "carved"
                    else ""
                )
            )
        return written

    def test_set(self) -> list[LabeledImage]:
        """The frozen test set in memory (small folders, tests)."""
        with tempfile.TemporaryDirectory() as tmp:
            rows = self.write_test_set(Path(tmp))
            return [LabeledImage(rel, label, (Path(tmp) / rel).read_bytes()) for rel, label in rows]


def _read_back(split_dir: Path) -> list[LabeledImage]:
    if not split_dir.is_dir():
        return []
    return [
        LabeledImage(path.name, path.parent.name, path.read_bytes())
        for path in sorted(split_dir.glob("*/*"))
    ]
