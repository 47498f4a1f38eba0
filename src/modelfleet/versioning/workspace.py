"""One workspace per pipeline run: a git worktree of the model repository.

A run's tasks (separate processes under Airflow) find their workspace by the
run id, so snapshot, validate, train, evaluate, register and deploy of one run all
see the same files, and no other run's. The last few workspaces of a workflow are
kept (an operator may approve a rejected candidate from one); older ones go.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from modelfleet.errors import VersioningError
from modelfleet.settings import Settings
from modelfleet.versioning.repo import ModelRepo, open_repo

KEEP_PER_WORKFLOW = 3
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def workspace_path(settings: Settings, workflow: str, run_id: str | None) -> Path:
    return settings.workspaces / workflow / _UNSAFE.sub("_", run_id or "manual")


def open_workspace(
    settings: Settings, workflow: str, run_id: str | None, *, create: bool = False
) -> ModelRepo:
    """The run's workspace; `create` makes it (from `main`) if it does not exist yet."""
    repo = open_repo()
    path = workspace_path(settings, workflow, run_id)
    workspace = ModelRepo(path, repo.remote, origin=repo)
    if workspace.exists():
        return workspace
    if not create:
        raise VersioningError(
            f"the workspace of run {run_id!r} of {workflow} is gone ({path}); "
            "clear the run from its snapshot task to start over"
        )
    prune_workspaces(settings, repo, workflow, keep=KEEP_PER_WORKFLOW - 1)
    return repo.add_workspace(path)


def prune_workspaces(settings: Settings, repo: ModelRepo, workflow: str, keep: int) -> None:
    """Remove all but the `keep` most recently used workspaces of `workflow`."""
    folder = settings.workspaces / workflow
    if not folder.is_dir():
        return
    by_age = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in by_age[keep:]:
        if (stale / ".git").exists():
            repo.remove_workspace(stale)
        else:
            shutil.rmtree(stale, ignore_errors=True)
