"""What the zoo offers: one row per family for `modelfleet zoo`.

Importing this module is cheap, and so is `describe_families` at the default input
(32x32x3, 10 classes): the sizes come from `DEFAULT_BUILDS`, the descriptions from each
family's source text, so `modelfleet zoo` answers without importing TensorFlow (which
alone takes seconds). Any other input builds every family with Keras.
`tests/unit/zoo/test_catalog.py` rebuilds the defaults and compares, so the table cannot
go stale.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from typing import Any

from modelfleet.zoo import FAMILIES, build

DEFAULT_INPUT_SHAPE = (32, 32, 3)
DEFAULT_CLASSES = 10

# family -> (parameters, Keras layers, width of "features") of build(family, 32x32x3, 10)
DEFAULT_BUILDS: dict[str, tuple[int, int, int]] = {
    "lenet": (83_126, 9, 576),
    "alexnet": (333_546, 25, 64),
    "zfnet": (478_826, 25, 96),
    "googlenet": (87_892, 39, 128),
    "vgg": (639_210, 29, 128),
    "resnet": (274_042, 73, 64),
    "mobilenet": (224_778, 74, 320),
}


def summary(name: str) -> str:
    """The first line of family `name`'s module docstring, read without importing it."""
    spec = importlib.util.find_spec(FAMILIES[name])
    assert spec is not None and spec.origin is not None  # FAMILIES names our own modules
    docstring = ast.get_docstring(ast.parse(Path(spec.origin).read_text()))
    return (docstring or "").strip().split("\n", 1)[0]


def measure(name: str, input_shape: tuple[int, int, int], num_classes: int) -> tuple[int, int, int]:
    """(parameters, layers, features width) of a fresh build: imports Keras."""
    model = build(name, input_shape, num_classes)
    return (
        model.count_params(),
        len(model.layers),
        int(model.get_layer("features").output.shape[-1]),
    )


def describe(name: str, input_shape: tuple[int, int, int], num_classes: int) -> dict[str, Any]:
    """One family's row: name, docstring summary, and the size of its default build."""
    default = tuple(input_shape) == DEFAULT_INPUT_SHAPE and num_classes == DEFAULT_CLASSES
    params, layers, features = (
        DEFAULT_BUILDS[name] if default else measure(name, input_shape, num_classes)
    )
    return {
        "name": name,
        "description": summary(name),
        "params": params,
        "layers": layers,
        "features": features,
    }


def describe_families(
    input_shape: tuple[int, int, int] = DEFAULT_INPUT_SHAPE, num_classes: int = DEFAULT_CLASSES
) -> list[dict[str, Any]]:
    """Describe every family in registry order.

    Returns:
        Dicts with `name`, `description` (first docstring line), `params` (all weights,
        trainable or not), `layers` (Keras layers, the input layer included) and
        `features` (width of the "features" vector a transfer-learning head sees).
    """
    return [describe(name, input_shape, num_classes) for name in FAMILIES]
