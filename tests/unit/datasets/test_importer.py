"""`modelfleet data import`: one month from a folder into the deliveries, whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelfleet.cli import main
from modelfleet.config import load_fleet, parse_fleet
from modelfleet.datasets.deliveries import delivered_files
from modelfleet.datasets.folder_location import Location
from modelfleet.datasets.importer import import_month
from modelfleet.errors import DataError
from modelfleet.settings import CHECKOUT
from tests.helpers.user_folder import write_user_folder


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("user") / "photos"
    write_user_folder(root, months=("2026-01",), odd_formats=False)
    write_user_folder(root / "split", months=("2026-01",), layout="splits", odd_formats=False)
    return root


@pytest.fixture()
def workflow():
    """A folder workflow for the photos' classes that carves a test share by hash."""
    doc = {
        "defaults": {"architecture": "lenet"},
        "workflows": {
            "photos": {
                "source": {"kind": "folder", "url": "/unused", "test_fraction": 0.2},
                "classes": ["china", "flower"],
                "input_shape": [32, 32, 3],
            }
        },
    }
    return parse_fleet(doc).get("photos")


def test_a_month_is_copied_with_its_holdout_by_hash(photos, workflow, tmp_path):
    summary = import_month(workflow, str(photos / "2026-01"), "2026-05", tmp_path)
    target = tmp_path / "photos" / "2026-05"
    assert summary.target == target
    files = delivered_files(target)
    kept = summary.counts.total("train") + summary.counts.total("holdout")
    assert len(files) == kept and kept + summary.counts.held_for_test == 40
    assert summary.counts.held_for_test > 0  # the workflow's test_fraction share stays out
    assert {f.label for f in files} == {"china", "flower"}
    assert "imported" in summary.lines()[0]


def test_the_users_split_is_kept(photos, workflow, tmp_path):
    summary = import_month(workflow, str(photos / "split" / "2026-01"), "2026-05", tmp_path)
    assert summary.counts.total("holdout") > 0
    assert {f.split for f in delivered_files(summary.target)} == {"train", "holdout"}


def test_a_delivered_month_is_replaced_only_when_asked(photos, workflow, tmp_path):
    import_month(workflow, str(photos / "2026-01"), "2026-05", tmp_path)
    with pytest.raises(DataError, match="2026-05 exists: photos 2026-05 was delivered already"):
        import_month(workflow, str(photos / "2026-01"), "2026-05", tmp_path)
    summary = import_month(workflow, str(photos / "2026-01"), "2026-05", tmp_path, replace=True)
    assert summary.replaced and sorted(p.name for p in (tmp_path / "photos").iterdir()) == [
        "2026-05"
    ]


def test_the_whole_folder_instead_of_a_month_is_refused(photos, workflow, tmp_path):
    with pytest.raises(DataError, match="holds month or test folders: give the month's own"):
        import_month(workflow, str(photos), "2026-05", tmp_path)


def test_a_label_that_is_not_a_class_is_refused(photos, workflow, tmp_path):
    narrow = workflow.model_copy(update={"classes": ("china", "pagoda")})
    with pytest.raises(DataError, match=r"2026-01: label folders \['flower'\] are not classes"):
        import_month(narrow, str(photos / "2026-01"), "2026-05", tmp_path)
    assert not (tmp_path / "photos" / "2026-05").exists()


def test_an_error_while_copying_leaves_nothing_half_copied(photos, workflow, tmp_path, monkeypatch):
    calls = []
    read_many = Location.read_many

    def failing(self, paths):  # the store goes away after the first batch
        calls.append(len(paths))
        if len(calls) > 1:
            raise DataError("cannot read s3://...: connection reset")
        return read_many(self, paths)

    monkeypatch.setattr(Location, "read_many", failing)
    monkeypatch.setattr("modelfleet.datasets.folder._READ_BATCH", 8)
    with pytest.raises(DataError, match="connection reset"):
        import_month(workflow, str(photos / "2026-01"), "2026-05", tmp_path)
    assert len(calls) == 2
    assert list((tmp_path / "photos").iterdir()) == []  # no month, no temporary


def test_the_command_prints_a_summary(photos, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MODELFLEET_HOME", str(tmp_path))
    (tmp_path / "workflows.d").mkdir()
    (tmp_path / "workflows.d" / "photos.yaml").write_text(
        "workflows:\n  photos:\n"
        f"    source: {{kind: folder, url: {photos}}}\n"
        "    classes: [china, flower]\n    input_shape: [32, 32, 3]\n"
    )
    assert "photos" in load_fleet(CHECKOUT / "workflows.yaml").workflows
    assert main(["data", "import", "photos", str(photos / "2026-01"), "--month", "2026-07"]) == 0
    out = capsys.readouterr().out
    assert f"imported {photos}/2026-01 as photos 2026-07" in out and "train" in out
    assert (tmp_path / "deliveries" / "photos" / "2026-07" / "train").is_dir()
    assert main(["data", "import", "photos", str(tmp_path / "nope"), "--month", "2026-08"]) == 1
    assert "no such folder" in capsys.readouterr().err
