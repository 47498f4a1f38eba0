"""`modelfleet zoo`'s precomputed sizes are what Keras builds: a change to a family that
alters its parameter count, layers or feature width fails here until the table follows."""

from __future__ import annotations

import pytest

from modelfleet.zoo import FAMILIES
from modelfleet.zoo.catalog import (
    DEFAULT_BUILDS,
    DEFAULT_CLASSES,
    DEFAULT_INPUT_SHAPE,
    describe,
    measure,
)


def test_every_family_has_a_precomputed_row():
    assert list(DEFAULT_BUILDS) == list(FAMILIES)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_precomputed_sizes_match_a_fresh_keras_build(family):
    assert measure(family, DEFAULT_INPUT_SHAPE, DEFAULT_CLASSES) == DEFAULT_BUILDS[family]


def test_another_input_is_measured_with_keras():
    row = describe("lenet", (28, 28, 1), 4)
    assert (row["params"], row["layers"], row["features"]) == measure("lenet", (28, 28, 1), 4)
    assert row["params"] != DEFAULT_BUILDS["lenet"][0]
    assert row["description"].startswith("LeNet-5")
