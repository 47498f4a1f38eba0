"""What `inspect_folder` says about a user's folder of photos, and the problems it finds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelfleet.datasets.folder_inspect import inspect_folder
from tests.helpers.user_folder import ODD_FORMATS, write_user_folder


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("user") / "photos"
    write_user_folder(root)
    return root


def test_summary_counts_sizes_modes_and_balance(photos):
    summary = inspect_folder(str(photos))
    assert summary.months == ["2026-01", "2026-02"] and summary.classes == ["china", "flower"]
    per_class_jan = 20 + len(ODD_FORMATS)
    assert summary.images == {
        "2026-01": {"china": per_class_jan, "flower": per_class_jan},
        "2026-02": {"china": 20, "flower": 20},
        "test": {"china": 10, "flower": 10},
    }
    assert summary.balance() == 1.0 and summary.colour()
    assert {"RGB", "RGBA", "CMYK", "P", "I;16"} <= set(summary.modes())
    assert summary.short_side().low >= 60 and summary.width().high <= 640
    assert summary.test_source == f"{photos}/test/"
    assert summary.problems == []
    text = "\n".join(summary.lines())
    assert "2026-01" in text and "problems none" in text


def test_a_test_fraction_counts_the_carved_share(photos):
    summary = inspect_folder(str(photos), test_fraction=0.3)
    assert summary.test_source == f"{photos}/test/"  # a test folder is there too:
    assert any("test fraction was given too" in p for p in summary.problems)


def test_test_files_that_are_also_in_a_month_are_leakage(photos, tmp_path):
    folder = tmp_path / "p"
    shutil.copytree(photos, folder)
    shutil.copy(folder / "test/china/test_china_000.jpg", folder / "2026-02/china/copied.jpg")
    (problem,) = inspect_folder(str(folder)).problems
    assert problem.startswith("1 test files are also in the months (same bytes)")
    assert "test/china/test_china_000.jpg" in problem


def test_duplicates_and_undecodable_files_are_reported(photos, tmp_path):
    folder = tmp_path / "p"
    shutil.copytree(photos, folder)
    shutil.copy(folder / "2026-01/china/china_000.jpg", folder / "2026-02/china/again.jpg")
    (folder / "2026-02/flower/broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    problems = inspect_folder(str(folder)).problems
    assert any(p.startswith("1 files appear more than once") and "again.jpg" in p for p in problems)
    assert any(p.startswith("1 files do not decode") and "broken.jpg" in p for p in problems)


def test_no_test_set_is_a_problem_with_the_remedy(tmp_path):
    write_user_folder(tmp_path / "p", with_test=False, per_class=3, odd_formats=False)
    (problem,) = inspect_folder(str(tmp_path / "p")).problems
    assert problem.startswith(f"no test set: add {tmp_path}/p/test/<label>/<file>")
    assert inspect_folder(str(tmp_path / "p"), test_fraction=0.3).problems == []
