from __future__ import annotations

import pytest

from modelfleet.config import load_fleet
from modelfleet.datasets.manifest import describe
from modelfleet.datasets.snapshot import (
    ensure_test_set,
    frozen_test_set_dir,
    materialise,
    training_months,
)
from modelfleet.datasets.sources import source_for
from modelfleet.errors import NoDataForMonth


@pytest.fixture(scope="module")
def digits():
    from modelfleet.settings import CHECKOUT

    return load_fleet(CHECKOUT / "workflows.yaml").get("digits")


def test_months_are_deterministic_and_disjoint_from_the_test_set(digits):
    source = source_for(digits)
    jan, jan_again = source.month("2026-01"), source_for(digits).month("2026-01")
    assert [i.data for i in jan.train] == [i.data for i in jan_again.train]
    test_names = {i.name for i in source.test_set()}
    month_names = {i.name for i in jan.train + jan.holdout}
    assert not test_names & month_names
    assert len(test_names) == int(1797 * digits.source.test_fraction)


def test_month_outside_the_source_says_which_months_exist(digits):
    with pytest.raises(NoDataForMonth, match="no data for month 2027-01"):
        source_for(digits).month("2027-01")


def test_training_window_is_cumulative(digits):
    assert training_months(digits, "2026-03") == ["2026-01", "2026-02", "2026-03"]


def test_materialise_writes_images_and_manifests(digits, tmp_path):
    splits = materialise(digits, "2026-02", tmp_path, tmp_path / "deliveries")
    train = splits["train"]
    assert (tmp_path / "data/digits/train/manifest.csv").exists()
    assert len(list(train.path.rglob("*.png"))) == len(train.rows)
    assert {r.month for r in train.rows} == {"2026-01", "2026-02"}
    assert all(r.path.startswith(f"{r.month}/{r.label}/") for r in train.rows)
    assert (tmp_path / "deliveries/digits/2026-02/holdout").is_dir()
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700
    row = train.rows[0]
    assert (row.width, row.height, row.channels) == (28, 28, 1)
    assert {r.label for r in train.rows} == set(digits.classes)
    assert not {r.sha256 for r in train.rows} & {r.sha256 for r in splits["test"].rows}


def test_skipped_months_stay_out_of_the_window(digits, tmp_path):
    splits = materialise(
        digits, "2026-03", tmp_path, tmp_path / "deliveries", skip_months=frozenset({"2026-02"})
    )
    assert {r.month for r in splits["train"].rows} == {"2026-01", "2026-03"}


def test_the_test_set_is_rendered_once_and_copied_with_the_same_manifest(
    digits, tmp_path, monkeypatch
):
    first = materialise(digits, "2026-01", tmp_path / "a", tmp_path / "deliveries")["test"]
    rendered = ensure_test_set(digits, tmp_path / "deliveries")

    def no_rendering(*_args, **_kwargs):
        raise AssertionError("the cached test set was rendered again")

    monkeypatch.setattr("modelfleet.datasets.snapshot.source_for", no_rendering)
    second = materialise(digits, "2026-02", tmp_path / "b", tmp_path / "deliveries")["test"]

    assert rendered == frozen_test_set_dir(tmp_path / "deliveries", digits)
    assert second.manifest_sha256 == first.manifest_sha256
    assert [r.sha256 for r in second.rows] == [
        describe(second.path, r.path, r.label, "").sha256 for r in second.rows
    ]


def test_a_changed_source_renders_its_own_test_set(digits, tmp_path):
    smaller = digits.model_copy(
        update={"source": digits.source.model_copy(update={"test_fraction": 0.1})}
    )
    assert frozen_test_set_dir(tmp_path, smaller) != frozen_test_set_dir(tmp_path, digits)
    assert frozen_test_set_dir(tmp_path, digits) == frozen_test_set_dir(tmp_path, digits)
