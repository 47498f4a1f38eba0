"""The folder source on a real user folder of photo crops (tests/helpers/user_folder.py):
discovery, both layouts, ignored entries, the hash splits, the frozen test set, and
that nothing under the user's folder is ever changed."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from modelfleet.config import Workflow, load_fleet, parse_fleet
from modelfleet.datasets.deliveries import delivered_files, ensure_delivered, quarantine_delivered
from modelfleet.datasets.folder import FolderSource, copy_month, hash_share, read_files
from modelfleet.datasets.folder_listing import list_folder
from modelfleet.datasets.folder_location import open_location
from modelfleet.datasets.manifest import sha256_file
from modelfleet.datasets.snapshot import materialise, training_months
from modelfleet.datasets.sources import source_for, source_months
from modelfleet.datasets.specs import FolderSourceConfig
from modelfleet.errors import ConfigError, DataError, NoDataForMonth
from modelfleet.settings import CHECKOUT
from tests.helpers.user_folder import ODD_FORMATS, write_user_folder

CLASSES = ["china", "flower"]


def workflow(url: Path | str, **source: object) -> Workflow:
    """A folder workflow as workflows.d would hold it, merged over a small default."""
    doc = {
        "defaults": {"architecture": "lenet", "params": {"window_months": 3}},
        "workflows": {
            "photos": {
                "source": {"kind": "folder", "url": str(url), **source},
                "classes": CLASSES,
                "input_shape": [32, 32, 3],
            }
        },
    }
    return parse_fleet(doc).get("photos")


def tree_digest(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under root: sha256 and modification time (ns)."""
    return {
        str(p.relative_to(root)): (sha256_file(p), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("user") / "photos"
    write_user_folder(root)
    (root / "README.md").write_text("our line 3 camera\n")
    (root / "notes").mkdir()
    (root / "2026-13").mkdir()  # not a month
    (root / "2026-01" / "china" / ".DS_Store").write_bytes(b"\0" * 10)
    (root / "2026-01" / "flower" / "labels.csv").write_text("a,b\n")
    return root


def test_discovers_months_classes_and_the_test_set(photos):
    listing = list_folder(str(photos))
    assert list(listing.months) == ["2026-01", "2026-02"]
    assert listing.classes == CLASSES
    assert listing.all_problems() == []
    jan = listing.months["2026-01"]
    assert len(jan.files) == 2 * (20 + len(ODD_FORMATS))
    assert {f.split for f in jan.files} == {None}  # no holdout/ folder: split by hash
    assert listing.test is not None and len(listing.test.files) == 20


def test_a_file_url_is_the_same_folder(photos):
    listing = list_folder(f"file://{photos}")
    assert listing.url == f"file://{photos}" and list(listing.months) == ["2026-01", "2026-02"]
    assert listing.months["2026-01"].location == f"file://{photos}/2026-01"


def test_lists_what_it_ignores(photos):
    ignored = list_folder(str(photos)).ignored
    for name in ("README.md", "notes/", "2026-13/", "2026-01/china/.DS_Store"):
        assert str(photos / name).rstrip("/") in [i.rstrip("/") for i in ignored], name
    assert str(photos / "2026-01/flower/labels.csv") in ignored  # not an image


def test_train_and_holdout_folders_are_kept(tmp_path):
    write_user_folder(tmp_path / "p", months=("2026-01",), per_class=10, layout="splits")
    listing = list_folder(str(tmp_path / "p"))
    files = listing.months["2026-01"].files
    assert {f.split for f in files} == {"train", "holdout"}
    month = listing.months["2026-01"]
    counts = copy_month(listing.location, month, tmp_path / "out", holdout_fraction=0.5)
    # the user's split stands; holdout_fraction only applies without one
    assert counts.total("holdout") == sum(1 for f in files if f.split == "holdout") == 4


def test_train_folder_alone_gets_its_holdout_by_hash(tmp_path):
    write_user_folder(tmp_path / "p", months=("2026-01",), per_class=10, layout="splits")
    shutil.rmtree(tmp_path / "p" / "2026-01" / "holdout")
    listing = list_folder(str(tmp_path / "p"))
    assert {f.split for f in listing.months["2026-01"].files} == {None}


def test_holdout_split_is_deterministic_by_file_hash(photos, tmp_path):
    listing = list_folder(str(photos))
    jan = listing.months["2026-01"]
    runs = []
    for target in ("a", "b"):
        copy_month(listing.location, jan, tmp_path / target, holdout_fraction=0.25)
        runs.append(
            sorted(p.relative_to(tmp_path / target) for p in (tmp_path / target).rglob("*.*"))
        )
    assert runs[0] == runs[1]
    holdout = [p for p in runs[0] if p.parts[0] == "holdout"]
    assert 0 < len(holdout) < len(runs[0]) / 2
    for path in holdout:  # each is there because of its bytes
        sha = sha256_file(tmp_path / "a" / path)
        assert hash_share(sha, "holdout") < 0.25


def test_test_fraction_carves_a_frozen_share_that_is_never_trained_on(tmp_path):
    write_user_folder(tmp_path / "p", with_test=False, per_class=25)
    wf = workflow(tmp_path / "p", test_fraction=0.2)
    test_set = {hashlib.sha256(i.data).hexdigest() for i in source_for(wf).test_set()}
    again = {hashlib.sha256(i.data).hexdigest() for i in source_for(wf).test_set()}
    assert test_set == again and 10 < len(test_set) < 40  # about 20% of 110
    deliveries = tmp_path / "deliveries"
    trained = set()
    for month in ("2026-01", "2026-02"):
        for file in delivered_files(ensure_delivered(wf, month, deliveries)):
            trained.add(sha256_file(file.path))
    assert not trained & test_set
    assert len(trained) + len(test_set) == 2 * 2 * 25 + 2 * len(ODD_FORMATS)


def test_a_month_is_copied_into_deliveries_with_its_original_bytes(photos, tmp_path):
    wf = workflow(photos)
    before = tree_digest(photos)
    snapshots = materialise(wf, "2026-02", tmp_path / "repo", tmp_path / "deliveries")
    originals = {sha for sha, _ in before.values()}
    rows = [r for split in snapshots.values() for r in split.rows]
    assert rows and all(r.sha256 in originals for r in rows)
    assert {r.mode for r in rows} >= {"RGB", "RGBA", "CMYK", "P", "I;16"}
    assert {r.month for r in snapshots["train"].rows} == {"2026-01", "2026-02"}
    # validation quarantines from the copy; the user's folder stays as it was
    delivered = delivered_files(tmp_path / "deliveries" / "photos" / "2026-02")
    quarantine_delivered(tmp_path / "q", "photos", "2026-02", delivered[0], "test")
    assert tree_digest(photos) == before


def test_months_with_gaps_train_on_what_there_is(photos, tmp_path):
    folder = tmp_path / "p"
    shutil.copytree(photos, folder)
    (folder / "2026-02").rename(folder / "2026-04")
    wf = workflow(folder)
    assert source_months(wf) == ["2026-01", "2026-04"]
    assert training_months(wf, "2026-04") == ["2026-02", "2026-03", "2026-04"]
    wide = wf.model_copy(update={"params": wf.params.model_copy(update={"window_months": 4})})
    snapshots = materialise(wide, "2026-04", tmp_path / "repo", tmp_path / "deliveries")
    assert {r.month for r in snapshots["train"].rows} == {"2026-01", "2026-04"}
    with pytest.raises(NoDataForMonth, match=r"2026-03/ does not exist \(months there"):
        ensure_delivered(wf, "2026-03", tmp_path / "deliveries")


def test_start_month_and_months_narrow_the_discovered_months(photos):
    assert source_months(workflow(photos, start_month="2026-02")) == ["2026-02"]
    assert source_months(workflow(photos, start_month="2025-12", months=2)) == ["2026-01"]
    with pytest.raises(NoDataForMonth):
        FolderSource(workflow(photos, start_month="2026-02")).month_listing("2026-01")


def test_the_frozen_test_set_may_have_its_own_url(photos, tmp_path):
    folder = tmp_path / "p"
    shutil.copytree(photos, folder)
    (folder / "test").rename(tmp_path / "elsewhere")
    wf = workflow(folder, test=f"file://{tmp_path / 'elsewhere'}")
    assert len(source_for(wf).test_set()) == 20


# -- bad folders: clear errors naming the path --


def test_an_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    (problem,) = list_folder(str(tmp_path / "empty")).problems
    assert str(tmp_path / "empty") in problem and "the folder is empty" in problem


def test_no_month_folders_names_what_was_there(tmp_path):
    (tmp_path / "p" / "cats").mkdir(parents=True)
    (problem,) = list_folder(str(tmp_path / "p")).problems
    assert "no month folders (YYYY-MM)" in problem and "cats/" in problem


def test_a_single_class(tmp_path):
    write_user_folder(tmp_path / "p", months=("2026-01",), per_class=3, odd_formats=False)
    shutil.rmtree(tmp_path / "p" / "2026-01" / "flower")
    shutil.rmtree(tmp_path / "p" / "test" / "flower")
    problems = list_folder(str(tmp_path / "p")).problems
    assert any("at least 2 label folders, found ['china']" in p for p in problems)


def test_a_label_folder_with_no_images(photos, tmp_path):
    folder = tmp_path / "p"
    shutil.copytree(photos, folder)
    (folder / "2026-02" / "rust").mkdir()
    (folder / "2026-02" / "rust" / "notes.txt").write_text("none yet")
    listing = list_folder(str(folder))
    (problem,) = listing.all_problems()
    assert problem == f"{folder}/2026-02: label folders with no images: rust/"
    with pytest.raises(DataError, match=r"2026-02: label folders with no images: rust/"):
        FolderSource(workflow(folder)).month_listing("2026-02")


def test_images_outside_label_folders_or_nested_deeper(photos, tmp_path):
    folder = tmp_path / "p"
    shutil.copytree(photos, folder)
    shutil.copy(folder / "2026-02/china/china_000.jpg", folder / "2026-02/loose.jpg")
    (folder / "2026-01/china/old").mkdir()
    shutil.copy(folder / "2026-02/china/china_001.jpg", folder / "2026-01/china/old/x.jpg")
    problems = list_folder(str(folder)).all_problems()
    assert f"{folder}/2026-02: 1 image lies outside a label folder: loose.jpg" in problems
    nested = [p for p in problems if "2026-01: 1 image lies in folders nested" in p]
    assert len(nested) == 1 and "china/old/x.jpg" in nested[0]


def test_mixed_layouts_in_one_month(photos, tmp_path):
    folder = tmp_path / "p"
    shutil.copytree(photos, folder)
    (folder / "2026-02" / "train" / "china").mkdir(parents=True)
    shutil.copy(folder / "2026-02/china/china_000.jpg", folder / "2026-02/train/china/a.jpg")
    problems = list_folder(str(folder)).all_problems()
    assert problems == [
        f"{folder}/2026-02: mixes train/ and holdout/ with label folders "
        "['china', 'flower']; use one layout"
    ]


def test_a_label_that_is_not_a_class(photos, tmp_path):
    folder = tmp_path / "p"
    shutil.copytree(photos, folder)
    (folder / "2026-02" / "china").rename(folder / "2026-02" / "pagoda")
    with pytest.raises(DataError, match=r"2026-02: label folders \['pagoda'\] are not classes"):
        ensure_delivered(workflow(folder), "2026-02", tmp_path / "deliveries")
    assert not (tmp_path / "deliveries" / "photos" / "2026-02").exists()


def test_no_test_set_says_what_to_do(tmp_path):
    write_user_folder(tmp_path / "p", with_test=False, per_class=3, odd_formats=False)
    with pytest.raises(DataError, match=r"p/test/ does not exist; add a test set there"):
        source_for(workflow(tmp_path / "p")).test_set()


def test_a_test_folder_and_a_test_fraction_conflict(photos):
    with pytest.raises(DataError, match="test_fraction is set too"):
        source_for(workflow(photos, test_fraction=0.1)).test_set()


def test_a_test_url_and_a_test_fraction_conflict_in_config(photos):
    with pytest.raises(ConfigError, match=r"set either test .* or test_fraction"):
        workflow(photos, test="s3://b/test", test_fraction=0.1)


def test_a_folder_that_does_not_exist(tmp_path):
    with pytest.raises(DataError, match=f"{tmp_path}/nope: no such folder"):
        list_folder(str(tmp_path / "nope"))


def test_an_unknown_scheme_and_a_missing_driver_are_named():
    with pytest.raises(ConfigError, match="fsspec knows no filesystem for nosuch://"):
        open_location("nosuch://bucket/photos")
    with pytest.raises(ConfigError, match=r"gs:// needs the fsspec driver 'gcsfs'.*pip install"):
        open_location("gs://bucket/photos")


def test_a_url_without_a_scheme_name_is_refused_by_config(photos):
    with pytest.raises(ConfigError, match="no valid URL scheme"):
        workflow("://photos")


def test_folder_source_config_needs_start_month_for_months():
    with pytest.raises(ValueError, match="months needs start_month"):
        FolderSourceConfig(kind="folder", url="/x", months=3)


def test_reading_files_in_batches_keeps_their_order(photos):
    listing = list_folder(str(photos))
    files = listing.months["2026-01"].files
    read = [f.path for f, _ in read_files(listing.location, files)]
    assert read == [f.path for f in files]


def test_simulate_year_spans_a_folder_workflows_discovered_months(photos, tmp_path):
    from modelfleet.harness.year.simulate import fleet_months  # brings the platform's modules

    folder = tmp_path / "p"
    shutil.copytree(photos, folder)
    (folder / "2026-02").rename(folder / "2027-03")  # past the shipped fleet's year
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "photos.yaml").write_text(
        "workflows:\n  photos:\n"
        f"    source: {{kind: folder, url: {folder}}}\n"
        "    classes: [china, flower]\n    input_shape: [32, 32, 3]\n"
    )
    months = fleet_months(load_fleet(CHECKOUT / "workflows.yaml", tmp_path / "d"))
    assert months[0] == "2026-01" and months[-1] == "2027-03" and len(months) == 15
