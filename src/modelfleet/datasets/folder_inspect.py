"""Inspect a user's folder before it becomes a workflow: what it holds, what is wrong.

`inspect_folder` reads every image once (JPEGs at a reduced scale, which is enough for
brightness) and returns a `FolderSummary`: classes, images per month and class, sizes,
modes, balance, brightness per month, what was ignored, and the problems that would
stop a retrain (each naming its path). `workflows_d.propose_workflow` derives a
workflow's input shape and expectations from it.
"""

from __future__ import annotations

import hashlib
import io
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image, UnidentifiedImageError

from modelfleet.datasets.folder import hash_share, in_test_share, read_files
from modelfleet.datasets.folder_listing import TEST, FolderFile, list_folder
from modelfleet.datasets.folder_location import open_location
from modelfleet.imaging import MAX_PIXELS

_SCAN_SIDE = 64  # JPEGs are decoded at the smallest scale at least this big
PROGRESS_EVERY = 100  # files between two progress calls

Progress = Callable[[int, int], None]  # (files read, files in all)


@dataclass(frozen=True)
class Spread:
    low: float
    median: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        if not values:
            return cls(0, 0, 0)
        return cls(min(values), statistics.median(values), max(values))


@dataclass(frozen=True)
class FileFacts:
    """One image as inspected."""

    path: str
    month: str  # "" for the test set
    label: str
    split: str  # train | holdout | test
    bytes: int
    sha256: str
    width: int = 0
    height: int = 0
    mode: str = ""
    colour: bool = False  # holds colour, not just grey stored as RGB
    brightness: float = float("nan")  # mean grey level in [0, 1]
    contrast: float = float("nan")
    error: str = ""


@dataclass(frozen=True)
class FolderSummary:
    """What `inspect_folder` found. `images` counts per month (and "test") and label."""

    url: str
    test_url: str | None
    test_fraction: float | None
    test_source: str  # where the frozen test set comes from, in words
    holdout_fraction: float
    months: list[str]
    classes: list[str]
    files: list[FileFacts] = field(repr=False)
    ignored: list[str]
    problems: list[str]

    def usable(self) -> list[FileFacts]:
        return [f for f in self.files if not f.error]

    @property
    def images(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(self.classes, 0))
        for f in self.files:
            counts[f.month or TEST][f.label] += 1
        return {key: counts[key] for key in [*self.months, TEST] if key in counts}

    def split_counts(self, month: str) -> dict[str, int]:
        return dict(Counter(f.split for f in self.files if f.month == month))

    def shares(self) -> dict[str, float]:
        """Each class's share of the months' images."""
        training = [f for f in self.files if f.month]
        counts = Counter(f.label for f in training)
        return {c: counts[c] / len(training) if training else 0.0 for c in self.classes}

    def month_shares(self) -> dict[str, dict[str, float]]:
        out = {}
        for month in self.months:
            labels = Counter(f.label for f in self.files if f.month == month)
            total = sum(labels.values()) or 1
            out[month] = {c: labels[c] / total for c in self.classes}
        return out

    def balance(self) -> float:
        """The smallest class's share over the largest's (1.0: balanced)."""
        shares = list(self.shares().values())
        return min(shares) / max(shares) if shares and max(shares) > 0 else 0.0

    def month_brightness(self) -> dict[str, tuple[float, float]]:
        """Per month: mean brightness and mean contrast of its decodable images."""
        out = {}
        for month in self.months:
            usable = [f for f in self.usable() if f.month == month]
            if usable:
                out[month] = (
                    float(np.mean([f.brightness for f in usable])),
                    float(np.mean([f.contrast for f in usable])),
                )
        return out

    def colour(self) -> bool:
        return any(f.colour for f in self.usable())

    def width(self) -> Spread:
        return Spread.of([f.width for f in self.usable()])

    def height(self) -> Spread:
        return Spread.of([f.height for f in self.usable()])

    def short_side(self) -> Spread:
        return Spread.of([min(f.width, f.height) for f in self.usable()])

    def sizes(self) -> Spread:
        return Spread.of([f.bytes for f in self.files])

    def modes(self) -> dict[str, int]:
        return dict(Counter(f.mode for f in self.usable()).most_common())

    def undecodable(self) -> list[FileFacts]:
        return [f for f in self.files if f.error]

    def lines(self) -> list[str]:
        """The summary as a plain-text table, for a terminal."""
        images = self.images
        width = max([len(c) for c in self.classes] + [7])
        head = f"{'month':<8} " + " ".join(f"{c:>{width}}" for c in self.classes)
        out = [f"folder   {self.url}", f"classes  {', '.join(self.classes)}", "", head]
        for key, counts in images.items():
            splits = self.split_counts("" if key == TEST else key)
            note = self.test_source if key == TEST else f"holdout {splits.get('holdout', 0)}"
            if key != TEST and splits.get("test"):
                note += f", test {splits['test']}"
            total = sum(counts.values())
            cells = " ".join(f"{counts[c]:>{width}}" for c in self.classes)
            out.append(f"{key:<8} {cells}  total {total}  {note}".rstrip())
        w, h, b = self.width(), self.height(), self.sizes()
        shares = ", ".join(f"{c} {s:.0%}" for c, s in self.shares().items())
        out += [
            "",
            f"sizes    {w.low:.0f}..{w.high:.0f} x {h.low:.0f}..{h.high:.0f} px "
            f"(median {w.median:.0f}x{h.median:.0f}); "
            f"{b.low / 1000:.1f}..{b.high / 1000:.1f} kB (median {b.median / 1000:.1f})",
            "modes    "
            + ", ".join(f"{m} {n}" for m, n in self.modes().items())
            + ("  (colour)" if self.colour() else "  (grey)"),
            f"balance  {shares} (smallest/largest {self.balance():.2f})",
            "bright   "
            + ", ".join(f"{m} {b:.3f}" for m, (b, _) in self.month_brightness().items()),
            f"ignored  {len(self.ignored)}"
            + (": " + ", ".join(self.ignored[:8]) if self.ignored else "")
            + (" ..." if len(self.ignored) > 8 else ""),
        ]
        out += [f"problem  {p}" for p in self.problems] or ["problems none"]
        return out


def inspect_folder(
    url: str,
    *,
    test_url: str | None = None,
    test_fraction: float | None = None,
    holdout_fraction: float = 0.2,
    progress: Progress | None = None,
) -> FolderSummary:
    """Read the user's folder (and test set) and say what it holds and what is wrong.

    Args:
        url: local path or fsspec URL of the folder (`<YYYY-MM>/<label>/*`, ...).
        test_url: the frozen test set's own URL, if it is not `<url>/test/`.
        test_fraction: carve the test set out of the months by file hash instead.
        holdout_fraction: the holdout share of a month without a holdout/ folder.
        progress: hears (files read, files in all) every PROGRESS_EVERY files and at the end.

    Raises DataError/ConfigError only when the folder cannot be read at all; what is
    wrong inside it is in `problems`.
    """
    listing = list_folder(url, test_url)
    problems = listing.all_problems()
    parts = [(listing.location, p) for p in listing.months.values()]
    test_source = "none"
    if listing.test is not None:
        test_location = listing.location
        if test_url is not None:
            test_location = open_location(test_url)
        parts.append((test_location, listing.test))
        test_url = test_url and test_location.url
        test_source = test_url or f"{listing.location.child(TEST)}/"
        if test_fraction is not None:
            problems.append(
                f"{test_source} is a test set and a test fraction was given too; keep one"
            )
    elif test_fraction is not None:
        test_source = f"carved by file hash ({test_fraction:.0%})"
    else:
        problems.append(
            f"no test set: add {listing.location.child(TEST)}/<label>/<file>, give a test "
            "set URL, or a test fraction to carve one out of the months"
        )
    files: list[FileFacts] = []
    total = sum(len(part.files) for _, part in parts)
    for location, part in parts:
        for file, data in read_files(location, part.files):
            files.append(_facts(file, data, test_fraction, holdout_fraction))
            if progress is not None and len(files) % PROGRESS_EVERY == 0:
                progress(len(files), total)
    if progress is not None and len(files) % PROGRESS_EVERY:
        progress(len(files), total)
    problems += _content_problems(files, listing.classes)
    return FolderSummary(
        url=listing.url,
        test_url=test_url,
        test_fraction=test_fraction,
        test_source=test_source,
        holdout_fraction=holdout_fraction,
        months=list(listing.months),
        classes=listing.classes,
        files=files,
        ignored=listing.ignored,
        problems=problems,
    )


def _facts(
    file: FolderFile, data: bytes, test_fraction: float | None, holdout_fraction: float
) -> FileFacts:
    sha = hashlib.sha256(data).hexdigest()
    if not file.month or in_test_share(sha, test_fraction):
        split = "test"
    elif file.split is not None:
        split = file.split
    else:
        split = "holdout" if hash_share(sha, "holdout") < holdout_fraction else "train"
    base = FileFacts(file.path, file.month, file.label, split, len(data), sha)
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height, mode = image.width, image.height, image.mode
            if width * height > MAX_PIXELS:
                raise ValueError(f"{width}x{height} pixels exceeds the limit of {MAX_PIXELS:,}")
            image.draft("RGB", (_SCAN_SIDE, _SCAN_SIDE))  # JPEG only: decode at 1/2..1/8
            rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
            grey = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return replace(base, error=f"{type(exc).__name__}: {exc}")
    spread = np.abs(rgb - rgb.mean(axis=2, keepdims=True)).mean()
    return replace(
        base,
        width=width,
        height=height,
        mode=mode,
        colour=bool(spread > 2.0),  # grey saved as RGB has (almost) none
        brightness=round(float(grey.mean()), 6),
        contrast=round(float(grey.std()), 6),
    )


def _content_problems(files: list[FileFacts], classes: list[str]) -> list[str]:
    problems = []
    training = defaultdict(list)
    for f in files:
        if f.split != "test" or f.month:
            training[f.sha256].append(f.path)
    leaked = [f.path for f in files if not f.month and f.sha256 in training]
    if leaked:
        problems.append(
            f"{len(leaked)} test files are also in the months (same bytes), so the test "
            f"would score training data: {', '.join(leaked[:5])}"
        )
    twice = [paths for paths in training.values() if len(paths) > 1]
    if twice:
        problems.append(
            f"{len(twice)} files appear more than once in the months (same bytes): "
            + "; ".join(" = ".join(p) for p in twice[:3])
        )
    bad = [f for f in files if f.error]
    if bad:
        problems.append(
            f"{len(bad)} files do not decode (validation would quarantine them): "
            + "; ".join(f"{f.path} ({f.error})" for f in bad[:5])
        )
    test_labels = {f.label for f in files if f.split == "test"}
    missing = [c for c in classes if c not in test_labels]
    if files and missing and test_labels:
        problems.append(f"the test set has no images of {missing}")
    return problems
