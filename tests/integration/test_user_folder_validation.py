"""A user's folder of photos through the real Great Expectations suite, with the
expectations `propose_workflow` derived from it: the photos (odd formats included)
pass; a corrupt file and a test image copied into a month fail for their reason, on
the platform's copy, and the user's folder stays as it was."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from modelfleet.config import Fleet, load_fleet
from modelfleet.config.workflows_d import fleet_defaults, propose_workflow, write_workflow
from modelfleet.datasets.folder_inspect import inspect_folder
from modelfleet.datasets.manifest import sha256_file
from modelfleet.datasets.snapshot import materialise
from modelfleet.naming import data_dir
from modelfleet.settings import CHECKOUT
from modelfleet.training.data import load_split
from modelfleet.validation.suite import validate_snapshot
from tests.helpers.user_folder import write_user_folder

pytestmark = pytest.mark.integration
SHIPPED = CHECKOUT / "workflows.yaml"


def fleet_for(folder: Path, user_dir: Path) -> Fleet:
    summary = inspect_folder(str(folder))
    proposal = propose_workflow(
        summary, "photos", architecture="lenet", defaults=fleet_defaults(SHIPPED)
    )
    write_workflow("photos", proposal.entry, config_file=SHIPPED, user_dir=user_dir)
    return load_fleet(SHIPPED, user_dir)


def validate(fleet: Fleet, tmp: Path):
    workflow = fleet.get("photos")
    materialise(workflow, "2026-02", tmp / "repo", tmp / "deliveries")
    return validate_snapshot(workflow, "2026-02", tmp / "repo", tmp / "gx", tmp / "docs")


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256_file(p) for p in root.rglob("*") if p.is_file()}


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    write_user_folder(tmp_path / "photos", per_class=30)
    return tmp_path / "photos"


def test_the_photos_pass_with_the_proposed_expectations(photos, tmp_path):
    fleet = fleet_for(photos, tmp_path / "workflows.d")
    outcome = validate(fleet, tmp_path)
    assert outcome.success, [f.describe() for f in outcome.failures()]
    assert not outcome.warnings()
    spec = fleet.train_spec("photos")
    assert spec.preprocess.resize == "pad"
    x, y = load_split(tmp_path / "repo" / data_dir("photos", "train"), spec)
    assert x.shape[1:] == (64, 64, 3) and np.isfinite(x).all() and 0 <= x.min() <= x.max() <= 1
    assert set(y.tolist()) == {0, 1}


def test_a_corrupt_photo_fails_on_the_copy_only(photos, tmp_path):
    fleet = fleet_for(photos, tmp_path / "workflows.d")
    broken = photos / "2026-02" / "flower" / "flower_003.jpg"
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 2])
    before = digest(photos)
    outcome = validate(fleet, tmp_path)
    assert outcome.failed_checks() == {"decodable"} and outcome.quarantinable()
    (offending,) = outcome.offending_files()  # in train/ or holdout/, as its hash says
    assert offending.endswith("flower/flower_003.jpg")
    assert digest(photos) == before


def test_a_test_photo_in_a_month_is_leakage(photos, tmp_path):
    fleet = fleet_for(photos, tmp_path / "workflows.d")
    shutil.copy(photos / "test/china/test_china_004.jpg", photos / "2026-02/china/new.jpg")
    outcome = validate(fleet, tmp_path)
    assert "no_test_leakage" in outcome.failed_checks() and not outcome.quarantinable()
    assert any(f.endswith("china/new.jpg") for f in outcome.offending_files())
