"""Plots from a real git repository at a tag (DVC cache layout), Data Docs paths."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
import yaml

from modelfleet.errors import NotFound
from modelfleet.ui.artifacts import data_docs_file, data_docs_relpath, file_at_tag


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repo whose tag `w@v1.0.0` tracks a plot through dvc.lock and a CSV through git."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    png = b"\x89PNG fake plot"
    md5 = hashlib.md5(png).hexdigest()
    cache = repo / ".dvc" / "cache" / "files" / "md5" / md5[:2]
    cache.mkdir(parents=True)
    (cache / md5[2:]).write_bytes(png)
    lock = {"stages": {"evaluate@w": {"outs": [{"path": "models/w/confusion.png", "md5": md5}]}}}
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock))
    (repo / "models" / "w").mkdir(parents=True)
    (repo / "models" / "w" / "history.csv").write_text("epoch,loss\n0,1.0\n")
    (repo / ".gitignore").write_text(".dvc/cache\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "v1")
    git(repo, "tag", "w@v1.0.0")
    return repo


def test_a_dvc_tracked_plot_comes_from_the_cache_by_the_md5_at_the_tag(repo):
    assert file_at_tag(repo, "w@v1.0.0", "models/w/confusion.png") == b"\x89PNG fake plot"


def test_a_git_tracked_file_comes_from_git(repo):
    assert file_at_tag(repo, "w@v1.0.0", "models/w/history.csv").startswith(b"epoch")


def test_a_plot_missing_from_the_cache_is_looked_up_in_a_local_remote(repo, tmp_path):
    cached = next((repo / ".dvc" / "cache" / "files" / "md5").glob("*/*"))
    remote = tmp_path / "remote" / "files" / "md5" / cached.parent.name
    remote.mkdir(parents=True)
    cached.rename(remote / cached.name)
    with pytest.raises(NotFound, match="neither the DVC cache nor the remote"):
        file_at_tag(repo, "w@v1.0.0", "models/w/confusion.png")
    found = file_at_tag(repo, "w@v1.0.0", "models/w/confusion.png", str(tmp_path / "remote"))
    assert found.startswith(b"\x89PNG")


def test_unknown_tags_and_paths_are_not_found(repo):
    with pytest.raises(NotFound):
        file_at_tag(repo, "w@v9.9.9", "models/w/confusion.png")
    with pytest.raises(NotFound):
        file_at_tag(repo, "w@v1.0.0", "models/w/nothing.png")


def test_data_docs_urls_map_into_the_site_and_nowhere_else(tmp_path):
    site = tmp_path / "data-docs"
    (site / "w").mkdir(parents=True)
    (site / "w" / "index.html").write_text("ok")
    (tmp_path / "secret").write_text("no")
    assert data_docs_relpath(f"file://{site}/w/index.html", site) == "w/index.html"
    assert data_docs_relpath(f"file://{tmp_path}/secret", site) is None
    assert data_docs_relpath("https://example.com/x.html", site) is None
    assert data_docs_relpath(None, site) is None
    assert data_docs_file(site, "w/index.html").read_text() == "ok"
    with pytest.raises(NotFound):
        data_docs_file(site, "w/../../secret")
