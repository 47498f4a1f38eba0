from __future__ import annotations

import yaml

from modelfleet.config import load_fleet
from modelfleet.settings import CHECKOUT
from modelfleet.versioning.render import render_dvc_yaml, render_params


def test_checkout_dvc_files_match_workflows_yaml():
    """params.yaml and dvc.yaml are rendered; `modelfleet render` refreshes them."""
    fleet = load_fleet(CHECKOUT / "workflows.yaml", shipped_only=True)
    assert (CHECKOUT / "params.yaml").read_text() == render_params(fleet)
    assert (CHECKOUT / "dvc.yaml").read_text() == render_dvc_yaml(fleet)


def test_dvc_yaml_has_foreach_stages_and_model_artifacts():
    fleet = load_fleet(CHECKOUT / "workflows.yaml", shipped_only=True)
    doc = yaml.safe_load(render_dvc_yaml(fleet))
    assert doc["stages"]["train"]["foreach"] == "${workflows}"
    assert doc["artifacts"]["digits"]["type"] == "model"
    params = yaml.safe_load(render_params(fleet))
    assert params["workflows"] == sorted(fleet.workflows)
    assert len(params["workflows"]) == 20
    assert params["digits"]["architecture"] == "lenet"
