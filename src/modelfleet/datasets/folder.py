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

Reading the listing is cheap (one recursive listing); the bytes are read when a
month is copied. Folders at the top that are not `YYYY-MM` (or `test`), hidden
files, operating-system litter and files that are not images by their extension
are listed as ignored, never copied.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from modelfleet.config import FolderSourceConfig, Workflow
from modelfleet.datasets.folder_location import Entry, Location, open_location
from modelfleet.datasets.sources import LabeledImage, MonthSplit
from modelfleet.errors import DataError, NoDataForMonth
from modelfleet.fileops import private_dir, write_private
from modelfleet.months import add_months, month_index

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
TEST = "test"
SPLITS = ("train", "holdout")
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp"}
    | {".pgm", ".ppm", ".pbm", ".pnm"}
)
_LITTER = frozenset({"thumbs.db", "desktop.ini", "ehthumbs.db"})  # besides hidden files
_READ_BATCH = 32  # files fetched at once (concurrently on object stores)


@dataclass(frozen=True)
class FolderFile:
    """One image of the user's folder, where it lies and what it is labelled."""

    path: str  # in the filesystem's own terms
    month: str  # "" for the test set
    label: str
    split: str | None  # "train" or "holdout" where the folder says; None: by hash
    size: int

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class MonthListing:
    """The images of one month folder (or of the test set), and what was wrong there."""

    location: str  # URL of the folder, for messages
    month: str
    files: list[FolderFile]
    problems: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    empty_labels: list[str] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return sorted({f.label for f in self.files} | set(self.empty_labels))

    def check(self) -> None:
        """Raise DataError naming each problem of this folder."""
        if self.problems:
            raise DataError(f"{self.location}: " + "; ".join(self.problems))


@dataclass(frozen=True)
class FolderListing:
    """What a user's folder holds: its months, its test set, what was ignored."""

    location: Location
    months: dict[str, MonthListing]
    test: MonthListing | None  # <url>/test, or the test URL
    ignored: list[str]
    problems: list[str]  # of the folder as a whole

    @property
    def url(self) -> str:
        return self.location.url

    @property
    def classes(self) -> list[str]:
        parts = [*self.months.values(), *([self.test] if self.test else [])]
        return sorted({label for part in parts for label in part.labels})

    def all_problems(self) -> list[str]:
        parts = [*self.months.values(), *([self.test] if self.test else [])]
        return [*self.problems, *(f"{p.location}: {q}" for p in parts for q in p.problems)]


def list_folder(url: str, test_url: str | None = None) -> FolderListing:
    """List the user's folder (and its test set at `test_url`, if given); read no bytes."""
    location = open_location(url)
    by_top: dict[str, list[Entry]] = defaultdict(list)
    ignored: list[str] = []
    for parts, info in location.walk():
        top = parts[0]
        if len(parts) == 1 and info["type"] != "directory":
            ignored.append(location.child(top))
        elif MONTH.match(top) or (top == TEST and test_url is None):
            inside = by_top[top]  # an empty month folder is listed too (with a problem)
            if len(parts) > 1:
                inside.append((parts[1:], info))
        elif location.child(top) + "/" not in ignored:
            ignored.append(location.child(top) + "/")
    months = {
        top: _interpret(location, (top,), top, items)
        for top, items in sorted(by_top.items())
        if top != TEST
    }
    test = None
    if test_url is not None:
        test_location = open_location(test_url)
        test = _interpret_labels(test_location, (), "", list(test_location.walk()))
    elif TEST in by_top:
        test = _interpret_labels(location, (TEST,), "", by_top[TEST])
    for part in [*months.values(), *([test] if test else [])]:
        ignored += part.ignored
    problems = []
    if not months:
        problems.append(
            f"{url}: no month folders (YYYY-MM) with images"
            + (f"; ignored {_some(ignored)}" if ignored else " (the folder is empty)")
        )
    listing = FolderListing(location, months, test, ignored, problems)
    if months and len(listing.classes) < 2:
        problems.append(
            f"{url}: a classifier needs at least 2 label folders, found {listing.classes}"
        )
    return listing


def list_month(location: Location, month: str, entries: list[Entry] | None = None) -> MonthListing:
    """List one month's folder on its own (`<label>/*` or `{train,holdout}/<label>/*`);
    `entries`: its `walk()`, if the caller has it already."""
    return _interpret(location, (), month, location.walk() if entries is None else entries)


def _interpret(
    location: Location, prefix: tuple[str, ...], month: str, items: list[Entry]
) -> MonthListing:
    """One month folder: label folders, or train/ (and holdout/) holding label folders."""
    here = location.child(*prefix)
    folders = {p[0] for p, info in items if len(p) > 1 or info["type"] == "directory"}
    if "train" not in folders:
        if "holdout" in folders:
            return MonthListing(here, month, [], problems=["holdout/ without train/"])
        return _interpret_labels(location, prefix, month, items)
    others = sorted(f for f in folders - set(SPLITS) if not _ignorable(f))
    if others:
        problem = f"mixes train/ and holdout/ with label folders {others}; use one layout"
        return MonthListing(here, month, [], problems=[problem])
    # Without holdout/, the holdout is chosen from train/ by hash.
    splits = SPLITS if "holdout" in folders else ("train",)
    parts = [
        _interpret_labels(
            location,
            (*prefix, split),
            month,
            [(p[1:], i) for p, i in items if p[0] == split and len(p) > 1],
            split if len(splits) == 2 else None,
        )
        for split in splits
    ]
    problems, ignored = [], []
    loose = []
    for p, _ in items:
        if len(p) == 1 and p[0] not in folders:
            if _ignorable(p[0]) or not _is_image(p[0]):
                ignored.append(location.child(*prefix, p[0]))
            else:
                loose.append(p[0])
    if loose:
        problems.append(f"{_count(loose)} outside a label folder: {_some(loose)}")
    return MonthListing(
        here,
        month,
        [f for part in parts for f in part.files],
        problems=problems
        + [f"{s}/: {q}" for s, part in zip(splits, parts, strict=True) for q in part.problems],
        ignored=ignored + [i for part in parts for i in part.ignored],
        empty_labels=sorted({label for part in parts for label in part.empty_labels}),
    )


def _interpret_labels(
    location: Location,
    prefix: tuple[str, ...],
    month: str,
    items: list[Entry],
    split: str | None = None,
) -> MonthListing:
    """`<label>/<file>` entries under `prefix`."""
    files: list[FolderFile] = []
    ignored: list[str] = []
    loose: list[str] = []
    nested: list[str] = []
    labels: set[str] = set()
    for parts, info in sorted(items, key=lambda item: item[0]):
        if any(_ignorable(part) for part in parts):
            ignored.append(location.child(*prefix, *parts))
        elif info["type"] == "directory":
            if len(parts) == 1:
                labels.add(parts[0])
        elif not _is_image(parts[-1]):
            ignored.append(location.child(*prefix, *parts))
        elif len(parts) == 1:
            loose.append(parts[0])
        elif len(parts) > 2:
            nested.append("/".join(parts))
        else:
            labels.add(parts[0])
            files.append(FolderFile(info["name"], month, parts[0], split, int(info["size"] or 0)))
    problems = []
    if loose:
        problems.append(f"{_count(loose)} outside a label folder: {_some(loose)}")
    if nested:
        problems.append(
            f"{_count(nested)} in folders nested in a label folder (expected <label>/<file>): "
            + _some(nested)
        )
    empty = sorted(labels - {f.label for f in files})
    if empty:
        problems.append(f"label folders with no images: {_some([f'{e}/' for e in empty])}")
    if not files and not problems:
        problems.append("no images")
    return MonthListing(location.child(*prefix), month, files, problems, ignored, empty)


def _count(images: list[str]) -> str:
    return f"{len(images)} image{'s lie' if len(images) > 1 else ' lies'}"


def _some(names: list[str], limit: int = 5) -> str:
    more = len(names) - limit
    return ", ".join(names[:limit]) + (f" and {more} more" if more > 0 else "")


def _ignorable(name: str) -> bool:
    """Hidden files and folders, and what operating systems leave behind."""
    return name.startswith(".") or name.lower() in _LITTER


def _is_image(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_SUFFIXES


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

    def __init__(self, workflow: Workflow) -> None:
        if not isinstance(workflow.source, FolderSourceConfig):
            raise DataError(f"workflow {workflow.name!r}: its source is not a folder")
        self.workflow = workflow
        self.config: FolderSourceConfig = workflow.source

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
