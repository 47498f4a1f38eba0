"""Reference statistics from split folders and a real exported model, stored per version."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from modelfleet.datasets.manifest import describe, write_manifest
from modelfleet.embedding import PROJECTED_DIMS
from modelfleet.monitoring.reference import reference_from
from modelfleet.training.export import SIGNATURE_FILE

SHAPE = (12, 12, 1)
CLASSES = ["dark", "light"]


def split(root: Path, grey_levels: list[int]) -> Path:
    rows = []
    for i, level in enumerate(grey_levels):
        buffer = io.BytesIO()
        Image.fromarray(np.full(SHAPE[:2], level, dtype=np.uint8)).save(buffer, "PNG")
        (root / CLASSES[level > 127]).mkdir(parents=True, exist_ok=True)
        relpath = f"{CLASSES[level > 127]}/{i}.png"
        (root / relpath).write_bytes(buffer.getvalue())
        rows.append(describe(root, relpath, CLASSES[level > 127], "2026-01"))
    write_manifest(root, rows)
    return root


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input(SHAPE)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(5, activation="relu", name="features")(x)
    outputs = keras.layers.Dense(len(CLASSES), activation="softmax")(x)
    path = tmp_path_factory.mktemp("served") / "1000000"
    keras.Model(inputs, outputs).export(str(path), format="tf_saved_model", verbose=False)
    signature = {"classes": CLASSES, "input_shape": list(SHAPE), "preprocess": None}
    (path / SIGNATURE_FILE).write_text(json.dumps(signature))
    return path


def test_reference_from_a_snapshot(saved_model, tmp_path):
    train = split(tmp_path / "train", [10, 60, 200, 250])
    test = split(tmp_path / "test", [20, 230, 240])
    stats = reference_from(saved_model, "shades", "v1.0.0", train=train, test=test)
    assert sorted(stats["brightness"]) == pytest.approx(
        [10 / 255, 60 / 255, 200 / 255, 250 / 255], abs=1e-4
    )
    assert stats["contrast"] == pytest.approx([0.0] * 4, abs=1e-6)
    assert set(stats["class_shares"]) == set(CLASSES)
    assert sum(stats["class_shares"].values()) == pytest.approx(1.0)
    assert len(stats["embedding_sample"]) == 4
    assert all(len(row) == PROJECTED_DIMS for row in stats["embedding_sample"])
    assert stats["penultimate"] is True and stats["shapes"] == [list(SHAPE)]
    json.dumps(stats)  # stored as JSON
