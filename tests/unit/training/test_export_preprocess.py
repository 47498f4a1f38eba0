"""Each exported version records its preprocessing policy, and the endpoint's pool
loads it back; a version exported before the policy existed keeps stretching."""

from __future__ import annotations

import json

import pytest

from modelfleet.config import ServingPolicy, TrainParams, TrainSpec
from modelfleet.naming import Version, model_file
from modelfleet.preprocessing import LEGACY, PreprocessPolicy
from modelfleet.serving.pool import load_version
from modelfleet.training.export import SIGNATURE_FILE, export
from modelfleet.training.train import build_model

pytestmark = pytest.mark.slow


def test_the_policy_travels_with_the_version_to_the_endpoint(tmp_path):
    policy = PreprocessPolicy(resize="crop", background=(9, 9, 9))
    spec = TrainSpec(
        name="photos",
        architecture="lenet",
        classes=("china", "flower"),
        input_shape=(32, 32, 3),
        params=TrainParams(),
        preprocess=policy,
    )
    weights = tmp_path / "repo" / model_file("photos")
    weights.parent.mkdir(parents=True)
    build_model(spec, None).save_weights(weights)
    folder = export(spec, tmp_path / "repo", "v1.0.0", tmp_path / "serving")
    signature = json.loads((folder / SIGNATURE_FILE).read_text())
    assert signature["preprocess"] == {"resize": "crop", "background": [9, 9, 9]}
    serving = ServingPolicy(max_batch_size=2)
    loaded = load_version(tmp_path / "serving", "photos", Version.parse("v1.0.0"), serving)
    assert loaded.preprocess == policy
    loaded.batcher.close()

    del signature["preprocess"]  # as every version exported before the policy
    (folder / SIGNATURE_FILE).write_text(json.dumps(signature))
    old = load_version(tmp_path / "serving", "photos", Version.parse("v1.0.0"), serving)
    assert old.preprocess == LEGACY
    old.batcher.close()


def test_params_without_a_policy_mean_stretch():
    section = {
        "architecture": "lenet",
        "classes": ["a", "b"],
        "input_shape": [32, 32, 1],
        "params": {},
    }
    assert TrainSpec.from_params("old", section).preprocess == LEGACY
