"""Rendering a changed fleet into the model repository: only params.yaml and dvc.yaml are
committed (whatever else is staged), and the undo puts branch, index and files back.
A real git repository; the fleet is the checkout's, plus a user's workflow."""

from __future__ import annotations

import subprocess
from pathlib import Path

from modelfleet.config import load_fleet
from modelfleet.settings import CHECKOUT
from modelfleet.versioning.fleet_render import commit_rendered
from modelfleet.versioning.render import render_params
from modelfleet.versioning.repo import ModelRepo
from tests.helpers.user_workflow import write_user_workflow


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_commit_rendered_commits_only_its_files_and_undoes(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shipped = load_fleet(CHECKOUT / "workflows.yaml", shipped_only=True)
    (repo / "params.yaml").write_text(render_params(shipped))
    (repo / "dvc.yaml").write_text("stages: {}\n")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    (repo / "other.txt").write_text("staged by someone else\n")
    git(repo, "add", "other.txt")
    head, before = git(repo, "rev-parse", "HEAD"), (repo / "params.yaml").read_text()
    users = tmp_path / "workflows.d"
    users.mkdir()
    write_user_workflow(users)
    fleet = load_fleet(CHECKOUT / "workflows.yaml", users)

    undo = commit_rendered(ModelRepo(repo, tmp_path / "remote"), fleet, "Add workflow photos")

    assert git(repo, "log", "-1", "--format=%s") == "Add workflow photos"
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == [
        "dvc.yaml",
        "params.yaml",
    ]
    assert "photos:" in (repo / "params.yaml").read_text()
    assert git(repo, "status", "--porcelain") == "A  other.txt"  # still staged, not committed
    # Unchanged files: nothing to commit, nothing to undo.
    commit_rendered(ModelRepo(repo, tmp_path / "remote"), fleet, "again")()
    assert git(repo, "log", "-1", "--format=%s") == "Add workflow photos"

    undo()

    assert git(repo, "rev-parse", "HEAD") == head
    assert (repo / "params.yaml").read_text() == before
    assert git(repo, "status", "--porcelain") == "A  other.txt"
