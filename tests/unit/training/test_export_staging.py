"""Registration exports a version before it knows its number (outside the repository
lock), then names it: the staged SavedModel loads in the endpoint's pool like one
exported under its version, and a version's place is never written twice."""

from __future__ import annotations

import json

import pytest

from modelfleet.config import ServingPolicy, TrainParams, TrainSpec
from modelfleet.errors import VersioningError
from modelfleet.naming import Version, model_file, serving_dir
from modelfleet.serving.pool import load_version
from modelfleet.training.export import SIGNATURE_FILE, export_staged, publish
from modelfleet.training.train import build_model

pytestmark = pytest.mark.slow

SPEC = TrainSpec(
    name="caps",
    architecture="lenet",
    classes=("ok", "dent"),
    input_shape=(32, 32, 1),
    params=TrainParams(),
)


@pytest.fixture
def repo(tmp_path):
    weights = tmp_path / "repo" / model_file(SPEC.name)
    weights.parent.mkdir(parents=True)
    build_model(SPEC, None).save_weights(weights)
    return tmp_path / "repo"


def test_a_staged_export_serves_once_published_under_its_version(tmp_path, repo):
    root = tmp_path / "serving"
    staged = export_staged(SPEC, repo, root / SPEC.name / ".staged-run7")
    assert json.loads((staged / SIGNATURE_FILE).read_text())["version"] is None

    final = publish(staged, "v1.2.0", root)

    assert final == serving_dir(root, SPEC.name, Version.parse("v1.2.0"))
    assert not staged.exists()
    assert json.loads((final / SIGNATURE_FILE).read_text())["version"] == "v1.2.0"
    loaded = load_version(root, SPEC.name, Version.parse("v1.2.0"), ServingPolicy())
    loaded.batcher.close()


def test_a_retry_reuses_the_staged_export(tmp_path, repo):
    staged = export_staged(SPEC, repo, tmp_path / "serving" / SPEC.name / ".staged-run7")
    written = (staged / "saved_model.pb").stat().st_mtime_ns
    (repo / model_file(SPEC.name)).unlink()  # a second export could not even load it

    assert export_staged(SPEC, repo, staged) == staged
    assert (staged / "saved_model.pb").stat().st_mtime_ns == written


def test_a_version_is_never_published_over(tmp_path, repo):
    root = tmp_path / "serving"
    publish(export_staged(SPEC, repo, root / SPEC.name / ".staged-run1"), "v1.0.0", root)
    again = export_staged(SPEC, repo, root / SPEC.name / ".staged-run2")

    with pytest.raises(VersioningError, match="already exists; versions are immutable"):
        publish(again, "v1.0.0", root)
    assert (again / SIGNATURE_FILE).is_file()  # left as it was
