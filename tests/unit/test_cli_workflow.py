"""`modelfleet workflow add/list/remove` in-process, before the platform ever started
(no model repository, no registry): arguments, the printed proposal, what is refused
before any image is read, and that only workflows.d changes."""

from __future__ import annotations

import re

import click
import pytest
import yaml

from modelfleet.cli import main, workflows
from modelfleet.cli.base import parse_input_shape
from tests.helpers.user_folder import write_user_folder


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELFLEET_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_input_shape_reads_h_x_w_x_c():
    assert parse_input_shape("64x48x3") == (64, 48, 3)
    assert parse_input_shape("32X32X1") == (32, 32, 1)
    for bad in ("64x64", "64x64x3x1", "axbxc", "-1x2x3"):
        with pytest.raises(click.BadParameter, match="HxWxC"):
            parse_input_shape(bad)


def test_a_bad_input_shape_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["workflow", "add", "p", "--from", "/x", "--input-shape", "64x64"])
    assert exit_.value.code == 2
    assert "modelfleet workflow add: error:" in capsys.readouterr().err


def test_add_parses_every_option():
    args = workflows.add.make_context(
        "add",
        [
            *("line3", "--from", "s3://b/l", "--architecture", "auto"),
            *("--input-shape", "48x48x1", "--schedule", "@weekly", "--test-fraction", "0.2"),
            *("--budget-min", "2", "--dry-run"),
        ],
    ).params
    assert (args["name"], args["source"], args["architecture"]) == ("line3", "s3://b/l", "auto")
    assert args["input_shape"] == (48, 48, 1) and args["schedule"] == "@weekly"
    assert args["test_fraction"] == 0.2 and args["budget_min"] == 2 and args["dry_run"]


def test_dry_run_prints_the_summary_and_proposal_and_writes_nothing(home, tmp_path, capsys):
    folder = write_user_folder(tmp_path / "photos", per_class=6)
    assert main(["workflow", "add", "photos", "--from", str(folder.root), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"read (\d+) of \1 images", out)  # progress, to the last image
    assert "2026-01" in out and "balance" in out  # the summary table
    proposed = yaml.safe_load(out.split("proposed workflow 'photos':\n", 1)[1].split("why:")[0])
    entry = proposed["workflows"]["photos"]
    assert entry["architecture"] == "lenet" and entry["input_shape"] == [64, 64, 3]
    sizes = [p.stat().st_size for p in folder.files()]
    assert entry["expectations"]["max_bytes"] == 2 * max(sizes)  # twice the largest file
    assert "architecture lenet: proposed" in out and "min_rows" in out
    assert "nothing written" in out and not (home / "workflows.d" / "photos.yaml").exists()


def test_add_before_the_platform_started_writes_only_workflows_d(home, tmp_path, capsys):
    folder = write_user_folder(tmp_path / "photos", per_class=6, odd_formats=False)
    assert (
        main(["workflow", "add", "photos", "--from", str(folder.root), "--input-shape", "32x32x1"])
        == 0
    )
    out = capsys.readouterr().out
    assert "the platform was never started" in out and "once `modelfleet up` ran" in out
    written = yaml.safe_load((home / "workflows.d" / "photos.yaml").read_text())
    assert written["workflows"]["photos"]["input_shape"] == [32, 32, 1]
    assert not (home / "repo").exists()
    assert main(["workflow", "remove", "photos", "--yes"]) == 0
    assert not (home / "workflows.d" / "photos.yaml").exists()
    assert len(list((home / "workflows.d" / ".archive").glob("photos.*.yaml"))) == 1


def test_refused_before_reading_images(home, tmp_path, capsys):
    for argv, message in (
        (["Bad-Name", "--from", "/x"], "must match"),
        (["digits", "--from", "/x"], "'digits' is declared already"),
        (["p", "--from", "/x", "--architecture", "resnt"], "is not one of lenet"),
        (["p", "--from", "/x", "--test", "/t", "--test-fraction", "0.2"], "not both"),
    ):
        assert main(["workflow", "add", *argv]) == 1
        err = capsys.readouterr().err
        assert message in err and "inspecting" not in err
    assert not (home / "workflows.d").exists()


def test_a_schedule_airflow_could_not_parse_is_refused(home, tmp_path, capsys):
    folder = write_user_folder(tmp_path / "photos", per_class=4, odd_formats=False)
    argv = ["workflow", "add", "photos", "--from", str(folder.root), "--schedule", "monthly"]
    assert main(argv) == 1
    assert "'monthly' is not a cron expression" in capsys.readouterr().err
    assert not (home / "workflows.d" / "photos.yaml").exists()
    assert main([*argv[:-1], "0 6 1 * *"]) == 0
