"""`modelfleet` in-process: errors as one line with exit 1, usage errors exit 2, help for
every command, and `--help` without the heavy imports."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from modelfleet.cli import main, root


def test_data_generate_delivers_one_month_in_label_folders(tmp_path, capsys):
    out = tmp_path / "2026-02"
    assert main(["data", "generate", "surface_line1", "--month", "2026-02", "--out", str(out)]) == 0
    assert "surface_line1 2026-02" in capsys.readouterr().out
    assert {p.name for p in (out / "train").iterdir()} == {"ok", "scratch", "spot", "crack"}
    assert len(list((out / "holdout").glob("*/*.png"))) == 60
    # a second delivery of the same month would silently mix two batches: refused
    assert main(["data", "generate", "surface_line1", "--month", "2026-02", "--out", str(out)]) == 1
    assert "exists" in capsys.readouterr().err


def test_errors_are_one_line_and_exit_1(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    out = str(tmp_path / "x")
    assert main(["data", "generate", "digits", "--month", "2026-02", "--out", out]) == 1
    err = capsys.readouterr().err
    assert err.startswith("modelfleet: error: ") and err.count("\n") == 1


def _command_paths(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [path]
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            paths += _command_paths(sub, (*path, name))
    return paths


@pytest.mark.parametrize("path", _command_paths(root), ids=lambda p: " ".join(p) or "modelfleet")
def test_every_command_has_help(path, capsys):
    assert main([*path, "-h"]) == 0
    assert capsys.readouterr().out.startswith(f"usage: {' '.join(('modelfleet', *path))} ")


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "modelfleet: error: Missing command."),
        (["nope"], "No such command 'nope'"),
        (["data"], "modelfleet data: error: Missing command."),
        (["rollback", "digits"], "modelfleet rollback: error: Missing option '--reason'"),
        (["retrain", "digits", "--month", "March"], "month 'March' is not a month: YYYY-MM"),
        (["serve", "--port", "abc"], "'abc' is not a valid integer"),
    ],
)
def test_usage_errors_exit_2_as_argparse_did(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: modelfleet") and message in err


def test_help_imports_nothing_heavy():
    heavy = ("tensorflow", "keras", "airflow", "sqlalchemy", "rich")
    script = (
        "import sys\n"
        "from modelfleet.cli import main\n"
        "main(['--help'])\n"
        f"print([m for m in {heavy!r} if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"
