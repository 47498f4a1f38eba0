"""The monitored batch function over a real exported Keras SavedModel: the same
probabilities as `serve`, plus the projected penultimate embedding and input statistics,
in one call; the exported artifact is only read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelfleet.embedding import PROJECTED_DIMS, input_stats, projection
from modelfleet.training.monitored import EXTRA_COLUMNS, monitored_infer

SHAPE = (12, 12, 1)


def exported(tmp_path: Path, head: str) -> tuple[object, object]:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(1)
    inputs = keras.Input(SHAPE)
    x = keras.layers.Conv2D(3, 3, activation="relu")(inputs)
    x = keras.layers.Flatten()(x)
    features = keras.layers.Dense(6, activation="relu", name="features")(x)
    if head == "softmax":
        outputs = keras.layers.Dense(4, activation="softmax", name="predictions")(features)
    else:  # a head the graph walk does not recognise
        outputs = keras.layers.Dense(4, activation="sigmoid", name="predictions")(features)
    model = keras.Model(inputs, outputs)
    model.export(str(tmp_path / "sm"), format="tf_saved_model", verbose=False)
    penultimate = keras.Model(inputs, features)
    return tf.saved_model.load(str(tmp_path / "sm")), penultimate


def test_one_call_answers_as_serve_does_and_adds_the_projected_embedding(tmp_path):
    loaded, penultimate = exported(tmp_path, "softmax")
    infer, is_penultimate = monitored_infer(loaded, SHAPE, "digits", "v1.0.0")
    batch = np.random.default_rng(0).random((5, *SHAPE), dtype=np.float32)
    out = infer(batch)
    assert is_penultimate and out.shape == (5, 4 + EXTRA_COLUMNS)
    np.testing.assert_allclose(out[:, :4], loaded.serve(batch).numpy(), atol=1e-6)
    expected = penultimate(batch).numpy() @ projection("digits", "v1.0.0", 6)
    np.testing.assert_allclose(out[:, 4 : 4 + PROJECTED_DIMS], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out[:, 4 + PROJECTED_DIMS :], input_stats(batch), atol=1e-6)


def test_an_unrecognised_head_projects_the_scores_instead(tmp_path):
    loaded, _ = exported(tmp_path, "sigmoid")
    infer, is_penultimate = monitored_infer(loaded, SHAPE, "digits", "v1.0.0")
    batch = np.zeros((2, *SHAPE), dtype=np.float32)
    out = infer(batch)
    assert not is_penultimate
    scores = loaded.serve(batch).numpy()
    np.testing.assert_allclose(out[:, :4], scores, atol=1e-6)
    expected = scores @ projection("digits", "v1.0.0", 4)
    np.testing.assert_allclose(out[:, 4 : 4 + PROJECTED_DIMS], expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("rows", [1, 7])
def test_any_batch_size_is_one_traced_function(tmp_path, rows):
    loaded, _ = exported(tmp_path, "softmax")
    infer, _ = monitored_infer(loaded, SHAPE, "w", "v2.0.0")
    assert infer(np.ones((rows, *SHAPE), dtype=np.float32)).shape == (rows, 4 + EXTRA_COLUMNS)


@pytest.mark.parametrize(
    "family", ["lenet", "alexnet", "zfnet", "googlenet", "vgg", "resnet", "mobilenet"]
)
def test_every_zoo_family_yields_the_input_of_its_head(tmp_path, family):
    """Every architecture a version can have: the embedding is the input of its
    `predictions` layer (LeNet's fc2, not its `features` flatten)."""
    import keras
    import tensorflow as tf

    from modelfleet import zoo

    keras.utils.set_random_seed(0)
    model = zoo.build(family, (32, 32, 3), 10)
    model.export(str(tmp_path / "sm"), format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "sm"))
    infer, is_penultimate = monitored_infer(loaded, (32, 32, 3), family, "v1.0.0")
    batch = np.random.default_rng(1).random((3, 32, 32, 3), dtype=np.float32)
    out = infer(batch)
    assert is_penultimate
    np.testing.assert_allclose(out[:, :10], loaded.serve(batch).numpy(), atol=1e-5)
    head_input = model.get_layer("predictions").input
    features = keras.Model(model.input, head_input)(batch).numpy()
    width = features.reshape(3, -1).shape[1]
    expected = features.reshape(3, -1) @ projection(family, "v1.0.0", width)
    np.testing.assert_allclose(out[:, 10 : 10 + PROJECTED_DIMS], expected, rtol=1e-3, atol=1e-4)
