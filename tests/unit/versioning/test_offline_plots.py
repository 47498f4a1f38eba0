"""`dvc plots show` in a model repository writes a page that loads nothing from the
internet: the repository's own template inlines vega (real git and DVC)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from modelfleet.versioning.commands import BIN, tool_env
from modelfleet.versioning.offline_plots import FILES, TEMPLATE, ensure_template


def sh(cwd: Path, *args: str) -> str:
    done = subprocess.run(args, cwd=cwd, env=tool_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_dvc_plots_show_inlines_vega(tmp_path: Path):
    sh(tmp_path, "git", "init", "-q", "-b", "main")
    sh(tmp_path, str(BIN / "dvc"), "init", "-q")
    assert ensure_template(tmp_path) == list(FILES)
    assert ensure_template(tmp_path) == []  # nothing stale: nothing to commit
    assert sh(tmp_path, str(BIN / "dvc"), "config", "plots.html_template").strip() == TEMPLATE

    (tmp_path / "history.csv").write_text("epoch,loss\n0,1.0\n1,0.5\n2,0.3\n")
    sh(tmp_path, str(BIN / "dvc"), "plots", "show", "history.csv", "-y", "loss")
    page = (tmp_path / "dvc_plots" / "index.html").read_text()
    assert "cdn.jsdelivr.net" not in page and "<script src=" not in page
    assert "vega@5.33.1" in page and "vega-embed@6.29.0" in page
    assert "vegaEmbed(" in page and '"loss"' in page
