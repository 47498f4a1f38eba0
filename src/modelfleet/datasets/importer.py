"""`modelfleet data import`: copy one month's delivery from anywhere fsspec reaches into
a workflow's deliveries, `<deliveries>/<wf>/<YYYY-MM>/{train,holdout}/<label>/<file>`.

The month's folder holds `<label>/<file>` (the holdout is then chosen by file hash) or
`{train,holdout}/<label>/<file>`. It is copied to a temporary sibling and renamed
into place, so an error leaves nothing half-copied; the source is only read.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from modelfleet.datasets.base import WorkflowData
from modelfleet.datasets.deliveries import SPLITS, month_dir
from modelfleet.datasets.folder import CopyCounts, copy_month
from modelfleet.datasets.folder_listing import MONTH, TEST, list_month
from modelfleet.datasets.folder_location import open_location
from modelfleet.datasets.specs import FolderSourceConfig
from modelfleet.errors import DataError
from modelfleet.fileops import private_dir


@dataclass(frozen=True)
class ImportSummary:
    workflow: str
    month: str
    source: str
    target: Path
    counts: CopyCounts
    ignored: list[str] = field(default_factory=list)
    replaced: bool = False

    def lines(self) -> list[str]:
        out = [f"imported {self.source} as {self.workflow} {self.month} into {self.target}"]
        for split in SPLITS:
            per_label = self.counts.images.get(split, {})
            labels = ", ".join(f"{label} {n}" for label, n in sorted(per_label.items()))
            out.append(f"  {split:<8} {sum(per_label.values()):>5}  {labels}")
        out.append(f"  {self.counts.bytes / 1e6:.1f} MB")
        if self.counts.held_for_test:
            out.append(f"  {self.counts.held_for_test} files left out: the test share (by hash)")
        if self.ignored:
            shown = ", ".join(self.ignored[:8]) + (" ..." if len(self.ignored) > 8 else "")
            out.append(f"  ignored {len(self.ignored)}: {shown}")
        if self.replaced:
            out.append("  the month delivered before was replaced")
        return out


def import_month(
    workflow: WorkflowData, url: str, month: str, deliveries: Path, *, replace: bool = False
) -> ImportSummary:
    """Copy the month at `url` into `workflow`'s deliveries; DataError naming the path
    for a bad layout, a label that is not a class, or a month delivered already."""
    if not MONTH.match(month):
        raise DataError(f"month {month!r} is not YYYY-MM")
    target = month_dir(deliveries, workflow.name, month)
    if target.exists() and not replace:
        raise DataError(
            f"{target} exists: {workflow.name} {month} was delivered already "
            "(pass --replace to import over it)"
        )
    location = open_location(url)
    entries = location.walk()
    tops = {parts[0] for parts, _ in entries}
    if tops & {TEST} or any(MONTH.match(top) for top in tops):
        raise DataError(
            f"{location.url} holds month or test folders: give the month's own folder "
            f"(e.g. {location.child(month)}), which holds <label>/<file>"
        )
    listing = list_month(location, month, entries)
    listing.check()
    unknown = sorted(set(listing.labels) - set(workflow.classes))
    if unknown:
        raise DataError(
            f"{listing.location}: label folders {unknown} are not classes of workflow "
            f"{workflow.name!r} ({', '.join(workflow.classes)})"
        )
    source = workflow.source
    private_dir(target.parent, under=deliveries)
    tmp = target.with_name(f".{month}.import-{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        counts = copy_month(
            location,
            listing,
            tmp,
            holdout_fraction=source.holdout_fraction,
            test_fraction=source.test_fraction if isinstance(source, FolderSourceConfig) else None,
        )
        replaced = _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ImportSummary(
        workflow.name, month, listing.location, target, counts, listing.ignored, replaced
    )


def _swap_in(tmp: Path, target: Path) -> bool:
    """Rename `tmp` to `target`; an existing `target` is renamed away first and removed
    after, so at every moment one whole month is in place (or, for an instant, none)."""
    if not target.exists():
        os.replace(tmp, target)
        return False
    old = target.with_name(f".{target.name}.replaced-{os.getpid()}")
    os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)
    return True
