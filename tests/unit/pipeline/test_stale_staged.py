"""Register stages its SavedModel under `.staged-run<id>` before the version is known; a
registration that failed for good leaves one behind, which the next registration of the
workflow removes once nobody can still retry into it."""

from __future__ import annotations

import os
import time
from pathlib import Path

from modelfleet.pipeline.release import STAGED_PREFIX, drop_stale_staged


def _staged(folder: Path, run_id: int, age_s: float) -> Path:
    path = folder / f"{STAGED_PREFIX}{run_id}"
    (path / "variables").mkdir(parents=True)
    (path / "saved_model.pb").write_bytes(b"x")
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def test_only_old_staged_exports_of_other_runs_go(tmp_path: Path) -> None:
    old = _staged(tmp_path, 1, age_s=2 * 24 * 3600)
    retrying = _staged(tmp_path, 2, age_s=60)  # another run's registration, retried now
    mine = _staged(tmp_path, 3, age_s=2 * 24 * 3600)  # this run's own, from an earlier try
    version = tmp_path / "1000001"  # a published version is never touched
    version.mkdir()
    os.utime(version, (0, 0))

    drop_stale_staged(tmp_path, keep=mine)

    assert not old.exists()
    assert retrying.exists() and mine.exists() and version.exists()


def test_a_workflow_without_a_serving_folder_yet_is_fine(tmp_path: Path) -> None:
    drop_stale_staged(tmp_path / "new_workflow", keep=tmp_path / "new_workflow" / ".staged-run1")
