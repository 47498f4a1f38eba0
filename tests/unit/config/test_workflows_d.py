"""The user's workflows in workflows.d: merged over the shipped defaults, errors that
name the file and workflow, clashes that name both files, and atomic validated writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from modelfleet.config import load_fleet
from modelfleet.config.workflows_d import fleet_defaults, propose_workflow, write_workflow
from modelfleet.datasets.folder_inspect import inspect_folder
from modelfleet.errors import ConfigError
from modelfleet.settings import CHECKOUT
from tests.helpers.user_folder import write_user_folder

SHIPPED = CHECKOUT / "workflows.yaml"


def entry(url: str = "/data/photos", **changes: object) -> dict:
    return {
        "source": {"kind": "folder", "url": url, "test_fraction": 0.2},
        "classes": ["china", "flower"],
        "input_shape": [48, 48, 3],
        "architecture": "mobilenet",
        **changes,
    }


def put(folder: Path, name: str, workflows: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump({"workflows": workflows}))
    return path


def test_user_workflows_join_the_shipped_fleet_over_its_defaults(tmp_path):
    put(tmp_path, "photos.yaml", {"photos": entry(), "scans": entry(classes=["a", "b"])})
    put(tmp_path, "more.yaml", {"bottles": entry(params={"epochs": 2})})
    fleet = load_fleet(SHIPPED, tmp_path)
    shipped = load_fleet(SHIPPED, shipped_only=True)
    assert set(fleet.workflows) == set(shipped.workflows) | {"photos", "scans", "bottles"}
    photos = fleet.get("photos")
    # merged over the defaults of workflows.yaml: its gate, params and schedule
    assert photos.gate == shipped.get("surface_line1").gate
    assert photos.params.window_months == 3 and photos.schedule == "@monthly"
    assert photos.source.start_month is None and photos.preprocess.resize == "pad"
    assert fleet.get("bottles").params.epochs == 2


def test_no_workflows_d_folder_means_the_shipped_fleet(tmp_path):
    assert load_fleet(SHIPPED, tmp_path / "none") == load_fleet(SHIPPED, shipped_only=True)


def test_settings_point_at_home_workflows_d(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELFLEET_HOME", str(tmp_path))
    put(tmp_path / "workflows.d", "photos.yaml", {"photos": entry()})
    assert "photos" in load_fleet().workflows
    assert "photos" in load_fleet(SHIPPED).workflows


def test_an_edited_file_is_read_again(tmp_path):
    path = put(tmp_path, "photos.yaml", {"photos": entry()})
    assert load_fleet(SHIPPED, tmp_path).get("photos").architecture == "mobilenet"
    path.write_text(yaml.safe_dump({"workflows": {"photos": entry(architecture="lenet")}}))
    assert load_fleet(SHIPPED, tmp_path).get("photos").architecture == "lenet"


def test_hidden_and_other_files_are_not_read(tmp_path):
    put(tmp_path, ".photos.yaml.tmp", {"photos": entry()})
    put(tmp_path, ".half.yaml", {"half": entry()})
    (tmp_path / "notes.txt").write_text("not yaml: [")
    assert load_fleet(SHIPPED, tmp_path) == load_fleet(SHIPPED, shipped_only=True)


def test_an_error_names_the_file_and_the_workflow(tmp_path):
    path = put(tmp_path, "photos.yaml", {"photos": entry(architecture="resnt")})
    with pytest.raises(ConfigError) as caught:
        load_fleet(SHIPPED, tmp_path)
    assert str(caught.value).startswith(f"{path}: workflow 'photos': architecture:")


def test_a_clash_with_a_shipped_workflow_names_both_files(tmp_path):
    path = put(tmp_path, "mine.yaml", {"digits": entry()})
    with pytest.raises(ConfigError) as caught:
        load_fleet(SHIPPED, tmp_path)
    assert str(caught.value) == (
        f"{path}: workflow 'digits' is also declared in {SHIPPED}; rename one of them"
    )


def test_a_clash_between_two_user_files_names_both(tmp_path):
    first = put(tmp_path, "a.yaml", {"photos": entry()})
    second = put(tmp_path, "b.yaml", {"photos": entry()})
    with pytest.raises(
        ConfigError, match=f"{second}: workflow 'photos' is also declared in {first}"
    ):
        load_fleet(SHIPPED, tmp_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("workflows: [", "not valid YAML"),
        ("photos: {}", "expected a mapping with a 'workflows:' mapping"),
        ("workflows: {}\ndefaults: {}\n", "unknown top-level keys ['defaults']"),
        ("workflows:\n  a: {}\n  a: {}\n", "duplicate key 'a'"),
        ("workflows:\n  photos: 3\n", "workflow 'photos': expected a mapping"),
    ],
)
def test_malformed_files_are_named(tmp_path, text, expected):
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_fleet(SHIPPED, tmp_path)
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "bad.yaml")) and expected in message


def test_transfer_from_a_shipped_workflow_is_checked_across_files(tmp_path):
    put(tmp_path, "p.yaml", {"photos": entry(transfer_from="digits")})
    with pytest.raises(ConfigError, match="needs the same input shape"):
        load_fleet(SHIPPED, tmp_path)


# -- writing --


def test_write_validates_first_and_writes_nothing_on_error(tmp_path):
    folder = tmp_path / "workflows.d"
    with pytest.raises(ConfigError, match="workflow 'photos': input_shape"):
        write_workflow("photos", entry(input_shape=[4, 4, 3]), config_file=SHIPPED, user_dir=folder)
    with pytest.raises(ConfigError, match=f"workflow 'digits' is also declared in {SHIPPED}"):
        write_workflow("digits", entry(), config_file=SHIPPED, user_dir=folder)
    assert not folder.exists() or not list(folder.iterdir())


def test_write_is_whole_and_loads_back(tmp_path):
    folder = tmp_path / "workflows.d"
    path = write_workflow(
        "photos", entry(), config_file=SHIPPED, user_dir=folder, comment="from /data/photos"
    )
    assert path == folder / "photos.yaml"
    assert path.read_text().startswith("# Workflow 'photos', written by modelfleet on ")
    assert "# from /data/photos\n" in path.read_text()
    assert [p.name for p in folder.iterdir()] == ["photos.yaml"]  # no temporary left
    assert load_fleet(SHIPPED, folder).get("photos").classes == ("china", "flower")
    with pytest.raises(ConfigError, match=r"photos\.yaml exists; workflow 'photos' is declared"):
        write_workflow("photos", entry(), config_file=SHIPPED, user_dir=folder)
    write_workflow(
        "photos", entry(architecture="vgg"), config_file=SHIPPED, user_dir=folder, replace=True
    )
    assert load_fleet(SHIPPED, folder).get("photos").architecture == "vgg"


def test_a_proposal_fits_the_photos_and_is_a_valid_workflow(tmp_path):
    write_user_folder(tmp_path / "photos")
    summary = inspect_folder(str(tmp_path / "photos"))
    proposal = propose_workflow(
        summary, "photos", architecture="mobilenet", defaults=fleet_defaults(SHIPPED)
    )
    expectations = proposal.entry["expectations"]
    sizes = summary.sizes()
    assert expectations["min_bytes"] <= sizes.low and expectations["max_bytes"] >= sizes.high
    assert expectations["max_bytes"] > 100_000  # the shipped default would reject these
    assert expectations["min_class_share"] <= 0.5 <= expectations["max_class_share"]
    assert proposal.entry["input_shape"] == [64, 64, 3]  # colour crops of 60-220 px
    assert proposal.entry["gate"] == {"min_test_samples": 20}  # the test set holds 20
    assert proposal.notes
    path = write_workflow("photos", proposal.entry, config_file=SHIPPED, user_dir=tmp_path / "d")
    workflow = load_fleet(SHIPPED, tmp_path / "d").get("photos")
    assert workflow.source.url == str(tmp_path / "photos")
    assert workflow.expectations.max_bytes == expectations["max_bytes"]
    assert path.exists()


def test_a_folder_with_problems_gets_no_proposal(tmp_path):
    write_user_folder(tmp_path / "photos", with_test=False)
    summary = inspect_folder(str(tmp_path / "photos"))
    with pytest.raises(ConfigError, match="no test set"):
        propose_workflow(summary, "photos", architecture="lenet")
