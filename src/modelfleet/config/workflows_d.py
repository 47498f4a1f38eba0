"""The user's own workflows, in `$MODELFLEET_HOME/workflows.d/<name>.yaml`.

`propose_workflow` turns an inspected folder (`datasets.folder_inspect`) into a
workflow entry whose input shape, expectations and gate sample size fit that data
(the shipped defaults, such as `max_bytes: 100000`, would reject real photos).
`write_workflow` validates an entry against the whole fleet and only then writes it,
atomically: a reader sees no file or the whole file. `config.load_fleet` reads them,
merged over the defaults of the checkout's workflows.yaml.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

from modelfleet.config.fleet import Fleet
from modelfleet.config.load import read_document, user_files
from modelfleet.config.parse import parse_fleet
from modelfleet.datasets.folder_inspect import FolderSummary
from modelfleet.errors import ConfigError
from modelfleet.settings import get_settings

SIDES = (32, 48, 64)  # the zoo is scaled for 28-64 px on a CPU
QUARANTINE_OK = 0.02  # as the shipped fleet
MIN_DRIFT = 0.1  # photos vary more month to month than a fixed inspection rig


@dataclass(frozen=True)
class Proposal:
    """A workflow entry for workflows.d, and why each derived value is what it is."""

    name: str
    entry: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {"workflows": {self.name: self.entry}}


def propose_workflow(
    summary: FolderSummary,
    name: str,
    *,
    architecture: str,
    input_shape: tuple[int, int, int] | None = None,
    schedule: str | None = None,
    defaults: dict[str, Any] | None = None,
) -> Proposal:
    """A workflow for the inspected folder: source, classes, input shape, expectations
    and gate sample size from the data; everything else from the fleet's defaults.

    Args:
        summary: what `inspect_folder` found (its test URL or fraction is used).
        name: the workflow's name.
        architecture: a zoo family (the caller chose it, e.g. by a zoo trial).
        input_shape: (height, width, channels); proposed from the images when None.
        schedule: an Airflow schedule; the defaults' (@monthly) when None.
        defaults: the fleet's `defaults:` block (for the gate's min_test_samples).
    """
    if summary.problems:
        raise ConfigError(
            f"{summary.url}: cannot propose a workflow, the folder has problems: "
            + "; ".join(summary.problems)
        )
    notes: list[str] = []
    source: dict[str, Any] = {"kind": "folder", "url": summary.url}
    if summary.test_url is not None:
        source["test"] = summary.test_url
    if summary.test_fraction is not None:
        source["test_fraction"] = summary.test_fraction
    if summary.holdout_fraction != 0.2:
        source["holdout_fraction"] = summary.holdout_fraction
    shape = input_shape or _input_shape(summary, notes)
    entry: dict[str, Any] = {
        "source": source,
        "classes": list(summary.classes),
        "input_shape": list(shape),
        "architecture": architecture,
        "preprocess": {"resize": "pad"},
        "expectations": _expectations(summary, notes),
    }
    test_images = sum(1 for f in summary.usable() if f.split == "test")
    wanted = int(((defaults or {}).get("gate") or {}).get("min_test_samples", 50))
    if test_images < wanted:
        entry["gate"] = {"min_test_samples": max(1, test_images)}
        notes.append(f"gate.min_test_samples {max(1, test_images)}: the test set holds that many")
    if schedule is not None:
        entry["schedule"] = schedule
    return Proposal(name, entry, notes)


def _input_shape(summary: FolderSummary, notes: list[str]) -> tuple[int, int, int]:
    short = summary.short_side().median
    side = max([s for s in SIDES if s <= short] or [SIDES[0]])
    channels = 3 if summary.colour() else 1
    notes.append(
        f"input_shape {side}x{side}x{channels}: the median image's short side is "
        f"{short:.0f} px, and the images are {'colour' if channels == 3 else 'grey'}; "
        "other aspect ratios are padded (preprocess.resize: pad)"
    )
    return (side, side, channels)


def _expectations(summary: FolderSummary, notes: list[str]) -> dict[str, Any]:
    sizes = summary.sizes()
    min_bytes, max_bytes = max(1, int(sizes.low // 2)), max(1, math.ceil(sizes.high * 2))
    notes.append(f"file size {min_bytes}..{max_bytes} bytes: half the smallest, twice the largest")
    train_counts = [
        sum(1 for f in summary.files if f.month == m and f.split == "train") for m in summary.months
    ]
    min_rows = max(1, min(train_counts) // 2)
    notes.append(f"min_rows {min_rows}: half the smallest month's training images")
    shares = [s for month in summary.month_shares().values() for s in month.values()]
    low, high = min(shares), max(shares)
    min_share, max_share = round(low / 2, 3), round(high + (1 - high) / 2, 3)
    notes.append(
        f"class shares {min_share}..{max_share}: the months hold {low:.0%}..{high:.0%} a class"
    )
    brightness = list(summary.month_brightness().values())
    shifts = [abs(b[0] - a[0]) for a, b in pairwise(brightness)]
    contrast = [abs(b[1] - a[1]) for a, b in pairwise(brightness)]
    max_brightness = round(min(1.0, max([MIN_DRIFT, *(2 * s for s in shifts)])), 3)
    max_contrast = round(min(1.0, max([MIN_DRIFT, *(2 * s for s in contrast)])), 3)
    notes.append(
        f"max_brightness_shift {max_brightness}: twice the largest month-to-month change "
        f"seen ({max(shifts, default=0):.3f}), at least {MIN_DRIFT}"
    )
    bad_share = max(
        (
            sum(1 for f in summary.undecodable() if f.month == m)
            / max(1, sum(1 for f in summary.files if f.month == m))
            for m in summary.months
        ),
        default=0.0,
    )
    return {
        "min_rows": min_rows,
        "min_class_share": min_share,
        "max_class_share": max_share,
        "min_bytes": min_bytes,
        "max_bytes": max_bytes,
        "max_brightness_shift": max_brightness,
        "max_contrast_shift": max_contrast,
        "quarantine_ok_fraction": round(max(QUARANTINE_OK, min(0.2, bad_share * 1.5)), 3),
    }


def workflow_file(name: str, user_dir: Path) -> Path:
    return user_dir / f"{name}.yaml"


def check_workflow(
    name: str,
    entry: dict[str, Any],
    *,
    config_file: Path | None = None,
    user_dir: Path | None = None,
    replace: bool = False,
) -> Fleet:
    """The fleet with this workflow in it, or ConfigError naming what is wrong: the
    entry, a clash with a shipped or another user's workflow, or an existing file.
    `config_file` and `user_dir` default to the settings' workflows.yaml and workflows.d."""
    config_file, user_dir = _places(config_file, user_dir)
    target = workflow_file(name, user_dir)
    if target.exists() and not replace:
        raise ConfigError(f"{target} exists; workflow {name!r} is declared already")
    others = [
        (str(path), read_document(path))
        for path in user_files(user_dir)
        if path.resolve() != target.resolve()
    ]
    shipped = read_document(config_file)
    return parse_fleet(
        shipped, str(config_file), [*others, (str(target), {"workflows": {name: entry}})]
    )


def write_workflow(
    name: str,
    entry: dict[str, Any],
    *,
    config_file: Path | None = None,
    user_dir: Path | None = None,
    replace: bool = False,
    comment: str = "",
) -> Path:
    """Validate the workflow against the fleet, then write `<user_dir>/<name>.yaml`
    atomically (a temporary sibling renamed into place). Nothing is written on error."""
    config_file, user_dir = _places(config_file, user_dir)
    check_workflow(name, entry, config_file=config_file, user_dir=user_dir, replace=replace)
    target = workflow_file(name, user_dir)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = f"# Workflow {name!r}, written by modelfleet on {stamp}.\n"
    if comment:
        header += "".join(f"# {line}\n" for line in comment.splitlines())
    text = header + yaml.safe_dump({"workflows": {name: entry}}, sort_keys=False)
    user_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=user_dir)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def fleet_defaults(config_file: Path | None = None) -> dict[str, Any]:
    """The `defaults:` block of the shipped workflows.yaml (what a user's workflow
    is merged over)."""
    doc = read_document(config_file or get_settings().config_file)
    return dict(doc.get("defaults") or {}) if isinstance(doc, dict) else {}


def _places(config_file: Path | None, user_dir: Path | None) -> tuple[Path, Path]:
    if config_file and user_dir:
        return config_file, user_dir
    settings = get_settings()
    return config_file or settings.config_file, user_dir or settings.workflows_d
