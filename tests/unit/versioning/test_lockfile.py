"""What main holds of each workflow: dvc.lock merged per workflow, stages declared only
for workflows whose data a tree tracks (a plain clone's `dvc pull` then warns about none)."""

from __future__ import annotations

import yaml

from modelfleet.config import load_fleet
from modelfleet.settings import CHECKOUT
from modelfleet.versioning.lockfile import merge_lock, workflows_with_data
from modelfleet.versioning.render import redeclare, render_dvc_yaml


def test_merge_replaces_only_the_workflows_stages():
    ours = yaml.safe_dump(
        {
            "schema": "2.0",
            "stages": {
                "train@digits": {"cmd": "old"},
                "evaluate@digits": {"cmd": "old"},
                "train@weld_pipe": {"cmd": "kept"},
            },
        }
    )
    theirs = yaml.safe_dump(
        {
            "schema": "2.0",
            "stages": {"train@digits": {"cmd": "new"}, "train@caps_line1": {"cmd": "stale"}},
        }
    )
    merged = yaml.safe_load(merge_lock(ours, theirs, "digits"))
    assert merged["stages"] == {"train@digits": {"cmd": "new"}, "train@weld_pipe": {"cmd": "kept"}}
    assert merged["schema"] == "2.0"


def test_merge_into_no_lock_yet():
    theirs = yaml.safe_dump({"schema": "2.0", "stages": {"validate@digits": {"cmd": "v"}}})
    assert yaml.safe_load(merge_lock(None, theirs, "digits"))["stages"] == {
        "validate@digits": {"cmd": "v"}
    }


def test_stages_are_declared_for_workflows_with_data(tmp_path):
    (tmp_path / "data" / "digits").mkdir(parents=True)
    (tmp_path / "data" / "digits" / "train.dvc").write_text("outs: []\n")
    (tmp_path / "data" / "weld_pipe").mkdir(parents=True)  # a folder, no .dvc file
    assert workflows_with_data(tmp_path, ["digits", "weld_pipe", "photos"]) == ["digits"]


def test_declared_stages_and_redeclare_keep_the_artifacts():
    fleet = load_fleet(CHECKOUT / "workflows.yaml", shipped_only=True)
    none = yaml.safe_load(render_dvc_yaml(fleet, []))
    assert none["stages"]["train"]["foreach"] == []
    assert len(none["artifacts"]) == 20  # GTO's artifacts: every workflow, version or not
    one = render_dvc_yaml(fleet, ["digits"])
    assert "&id" not in one  # no YAML anchors
    doc = yaml.safe_load(one)
    assert {doc["stages"][s]["foreach"][0] for s in ("validate", "train", "evaluate")} == {"digits"}
    assert redeclare(render_dvc_yaml(fleet, []), ["digits"]) == one


def test_validation_result_is_an_output_not_a_metric():
    """It holds the Data Docs URL, which `dvc metrics show` would list as a metric."""
    fleet = load_fleet(CHECKOUT / "workflows.yaml", shipped_only=True)
    validate = yaml.safe_load(render_dvc_yaml(fleet))["stages"]["validate"]["do"]
    assert "metrics" not in validate
    assert validate["outs"] == [{"models/${item}/validation.json": {"cache": False}}]
