"""Commit the model repository's `params.yaml` and `dvc.yaml` for a changed fleet, with
an undo (a workflow added or archived: `platform.workflow_change`).

The caller holds the repository lock. Only these two files are written and committed
(`git commit --only`), whatever else the main checkout holds; each run's workspace
renders them again from the fleet it loads, so the commit is the record of when the
fleet changed, and what `dvc` commands in the repository itself read.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from modelfleet.config import Fleet
from modelfleet.versioning.commands import run
from modelfleet.versioning.lockfile import workflows_with_data
from modelfleet.versioning.render import render_dvc_yaml, render_params
from modelfleet.versioning.repo import ModelRepo

RENDERED = ("params.yaml", "dvc.yaml")
Undo = Callable[[], None]


def commit_rendered(repo: ModelRepo, fleet: Fleet, message: str) -> Undo:
    """Render the fleet's params.yaml and dvc.yaml into `repo` and commit them if they
    changed. Returns what puts the files, the index and the branch back as they were.
    On an error nothing stays changed."""
    # Stages only for the workflows whose version main holds (lockfile.py).
    declared = workflows_with_data(repo.path, sorted(fleet.workflows))
    texts = {"params.yaml": render_params(fleet), "dvc.yaml": render_dvc_yaml(fleet, declared)}
    before = {name: _read(repo.path / name) for name in RENDERED}
    if all(before[name] == texts[name] for name in RENDERED):
        return lambda: None
    head = _git(repo, "rev-parse", "HEAD")

    def restore_files() -> None:
        for name, text in before.items():
            if text is None:
                (repo.path / name).unlink(missing_ok=True)
            else:
                _write(repo.path / name, text)

    try:
        for name, text in texts.items():
            _write(repo.path / name, text)
        _git(repo, "add", "--", *RENDERED)
        _git(repo, "commit", "-q", "--only", "-m", message, "--", *RENDERED)
    except BaseException:
        restore_files()
        # The index entries as HEAD has them; best effort, the first error is the one to
        # tell (a git that cannot take its index lock could not stage anything either).
        run(["git", "reset", "-q", "--", *RENDERED], repo.path)
        raise

    def undo() -> None:
        _git(repo, "reset", "-q", "--soft", head)  # the branch back; the index still new
        _git(repo, "reset", "-q", "--", *RENDERED)
        restore_files()

    return undo


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def _write(path: Path, text: str) -> None:
    """Readers (a `dvc` command in the repository) see the old file or the new one."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _git(repo: ModelRepo, *args: str) -> str:
    return run(["git", *args], repo.path).check().stdout.strip()
