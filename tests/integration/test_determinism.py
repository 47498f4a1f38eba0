"""The DVC training stage is deterministic: same data, params, code and seed give
weights with the same sha256 (two separate processes)."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from modelfleet.config import load_fleet
from modelfleet.datasets.snapshot import materialise
from modelfleet.naming import model_file
from modelfleet.settings import CHECKOUT
from modelfleet.versioning.render import render_params

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.parametrize("workflow", ["digits", "caps_line1"])
def test_training_twice_gives_identical_weights(tmp_path, workflow):
    fleet = load_fleet(CHECKOUT / "workflows.yaml")
    materialise(fleet.get(workflow), "2026-01", tmp_path, tmp_path / "deliveries")
    (tmp_path / "params.yaml").write_text(render_params(fleet))
    hashes = []
    for _ in range(2):
        subprocess.run(
            [sys.executable, "-m", "modelfleet.training.stage", "train", workflow],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )
        weights = tmp_path / model_file(workflow)
        hashes.append(hashlib.sha256(weights.read_bytes()).hexdigest())
        weights.unlink()
    assert hashes[0] == hashes[1]
