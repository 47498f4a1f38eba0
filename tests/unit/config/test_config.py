from __future__ import annotations

import pytest
import yaml

from modelfleet.config import load_fleet, parse_fleet
from modelfleet.errors import ConfigError

BASE = {
    "defaults": {"architecture": "lenet", "params": {"epochs": 3}},
    "workflows": {
        "digits": {
            "source": {"kind": "sklearn_digits", "start_month": "2026-01", "months": 6},
            "classes": [str(d) for d in range(10)],
            "input_shape": [28, 28, 1],
        }
    },
}


def _with(**changes: object) -> dict:
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    doc["workflows"]["digits"].update(changes)
    return doc


def test_checkout_fleet_loads(fleet_file):
    fleet = load_fleet(fleet_file)
    digits = fleet.get("digits")
    assert digits.dag_id == "retrain__digits"
    assert digits.input_shape == (28, 28, 1)
    assert len(digits.classes) == 10


def test_defaults_deep_merge_under_entries():
    doc = _with(params={"batch_size": 8})
    params = parse_fleet(doc).get("digits").params
    assert (params.epochs, params.batch_size) == (3, 8)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"architecture": "resnt"}, "architecture: Value error, 'resnt' is not one of lenet"),
        ({"classes": ["a", "a"]}, "classes: Value error, class names must be unique"),
        ({"classes": ["0", "1"]}, "classes must be the ten digits"),
        (
            {
                "source": {
                    "kind": "procedural",
                    "generator": "weld",
                    "start_month": "2026-01",
                    "months": 2,
                },
                "classes": ["ok", "crack"],
            },
            "classes ['crack'] are not produced by the data source",
        ),
        (
            {
                "source": {
                    "kind": "procedural",
                    "generator": "paint",
                    "start_month": "2026-01",
                    "months": 2,
                },
                "classes": ["ok", "x"],
            },
            "generator 'paint' is not one of surface, weld, label, cap",
        ),
        ({"init_from": "production", "transfer_from": "other"}, "not both"),
        (
            {"input_shape": [28, 28, 2]},
            "input_shape: Value error, expected [height, width, 1 or 3]",
        ),
        ({"input_shape": [28, 28]}, "input_shape"),
        ({"schedul": "@monthly"}, "schedul: Extra inputs are not permitted"),
        (
            {"source": {"kind": "sklearn_digits", "start_month": "2026-13", "months": 2}},
            "start_month",
        ),
        (
            {"expectations": {"min_class_share": 0.5, "max_class_share": 0.4}},
            "min_class_share is above max_class_share",
        ),
        ({"expectations": {"warn_only": ["brightnes_drift"]}}, "warn_only.0"),
        ({"expectations": {"quarantine_ok_fraction": 1.0}}, "quarantine_ok_fraction"),
    ],
)
def test_errors_name_workflow_and_field(change, expected):
    with pytest.raises(ConfigError) as err:
        parse_fleet(_with(**change))
    assert "workflow 'digits'" in str(err.value)
    assert expected in str(err.value)


def test_duplicate_workflow_names_are_rejected(tmp_path):
    path = tmp_path / "workflows.yaml"
    path.write_text(
        "workflows:\n  a: {}\n  a: {}\n",
    )
    with pytest.raises(ConfigError, match="duplicate key 'a'"):
        load_fleet(path)


def test_unknown_workflow_lists_the_fleet(fleet_file):
    with pytest.raises(ConfigError, match="unknown workflow 'nope'; the fleet has digits"):
        load_fleet(fleet_file).get("nope")


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read fleet file"):
        load_fleet(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("workflows: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_fleet(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("workflows: {}\n")
    with pytest.raises(ConfigError, match="no workflows declared"):
        load_fleet(empty)


def _two(**second: object) -> dict:
    doc = _with()
    doc["workflows"]["other"] = {**doc["workflows"]["digits"], **second}
    return doc


def test_transfer_from_must_name_a_compatible_workflow():
    with pytest.raises(ConfigError, match="transfer_from 'nope' is not a workflow"):
        parse_fleet(_two(transfer_from="nope"))
    with pytest.raises(ConfigError, match="needs the same input shape"):
        parse_fleet(_two(transfer_from="digits", input_shape=[32, 32, 1]))
    fleet = parse_fleet(_two(transfer_from="digits"))
    spec = fleet.train_spec("other")
    assert spec.warm_start == "transfer"
    assert spec.parent is not None and spec.parent.workflow == "digits"
    assert fleet.train_spec("digits").parent is None


@pytest.mark.parametrize(
    ("applications", "message"),
    [
        ({"hmi": {"grants": {"nope": "production"}}}, "grants unknown workflows ['nope']"),
        ({"hmi": {"grants": {"digits": "latest"}}}, "digits: pin 'latest' is neither an alias"),
        ({"hmi": {"grants": {"digits": "production"}, "admn": True}}, "admn"),
        (["hmi"], "'applications:' must be a mapping"),
    ],
)
def test_declared_applications_are_checked(applications, message):
    doc = _with()
    doc["applications"] = applications
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_fleet(doc)


def test_serving_batching_is_per_workflow():
    fleet = parse_fleet(
        {
            **_with(serving={"max_batch_size": 8}),
            "applications": {"a": {"grants": {"digits": "v1.2.0"}}},
        }
    )
    assert fleet.get("digits").serving.max_batch_size == 8
    assert fleet.get("digits").serving.batch_timeout_ms == 1.0
    assert fleet.applications["a"].grants == {"digits": "v1.2.0"}
    with pytest.raises(ConfigError, match="max_batch_size"):
        parse_fleet(_with(serving={"max_batch_size": 0}))


def test_the_fast_loader_reads_the_fleet_file_as_pyyaml_does(fleet_file):
    from modelfleet.config.load import _UniqueKeyLoader

    text = fleet_file.read_text()
    assert yaml.load(text, Loader=_UniqueKeyLoader) == yaml.safe_load(text)


def test_an_unchanged_file_is_parsed_once_an_edited_one_again(tmp_path):
    path = tmp_path / "workflows.yaml"
    path.write_text(yaml.safe_dump(BASE))
    first = load_fleet(path)
    assert load_fleet(path) is first  # the task's step reuses the DAG file's parse
    # Same size, same moment: only the content tells the two apart.
    path.write_text(yaml.safe_dump(BASE).replace("epochs: 3", "epochs: 4"))
    assert load_fleet(path).get("digits").params.epochs == 4
    path.write_text("workflows:\n  a: {}\n  a: {}\n")
    with pytest.raises(ConfigError, match="duplicate key 'a'"):
        load_fleet(path)


def test_a_bad_user_file_is_left_out_when_asked_and_named(tmp_path, caplog):
    """The DAG file, endpoint and stream skip a workflows.d file that does not load (and
    log it); everyone else gets the error."""
    import yaml

    from modelfleet.config import load_fleet
    from modelfleet.errors import ConfigError
    from modelfleet.settings import CHECKOUT

    good = {
        "source": {"kind": "folder", "url": "/data/p", "test_fraction": 0.2},
        "classes": ["a", "b"],
        "input_shape": [32, 32, 3],
        "architecture": "lenet",
    }
    (tmp_path / "a_good.yaml").write_text(yaml.safe_dump({"workflows": {"good": good}}))
    (tmp_path / "b_typo.yaml").write_text(
        yaml.safe_dump({"workflows": {"typo": {**good, "architecture": "resnt"}}})
    )
    (tmp_path / "c_clash.yaml").write_text(yaml.safe_dump({"workflows": {"digits": good}}))
    (tmp_path / "d_broken.yaml").write_text("workflows: {x: [")
    shipped = CHECKOUT / "workflows.yaml"
    with pytest.raises(ConfigError, match=r"d_broken\.yaml: not valid YAML"):
        load_fleet(shipped, tmp_path)
    with caplog.at_level("ERROR", logger="modelfleet.config"):
        fleet = load_fleet(shipped, tmp_path, skip_bad_user_files=True)
    assert "good" in fleet.workflows and "typo" not in fleet.workflows
    assert fleet.user_workflows == {"good": str(tmp_path / "a_good.yaml")}
    for name in ("b_typo.yaml", "c_clash.yaml", "d_broken.yaml"):
        assert f"{tmp_path / name} is left out of the fleet" in caplog.text
