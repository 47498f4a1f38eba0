"""What a user's folder holds, from one listing and no bytes read (see datasets.folder).

    <url>/<YYYY-MM>/<label>/<file>                     one folder a month, or
    <url>/<YYYY-MM>/{train,holdout}/<label>/<file>     with your own holdout
    <url>/test/<label>/<file>                          the frozen test set

Folders at the top that are not `YYYY-MM` (or `test`), hidden files, operating-system
litter and files that are not images by their extension are listed as ignored. What
would stop a retrain (no months, one class, a label folder without images, images
outside label folders or nested deeper, two layouts in one month) is listed as a
problem naming its path.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from modelfleet.datasets.folder_location import Entry, Location, open_location
from modelfleet.errors import DataError

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
TEST = "test"
SPLITS = ("train", "holdout")
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp"}
    | {".pgm", ".ppm", ".pbm", ".pnm"}
)
_LITTER = frozenset({"thumbs.db", "desktop.ini", "ehthumbs.db"})  # besides hidden files


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
