"""What the zoo offers: one row per family for `modelfleet zoo`.

Importing this module is cheap; `describe_families` imports Keras and builds every
family once (well under a second each at the default 32x32x3).
"""

from __future__ import annotations

import importlib
from typing import Any

from modelfleet.zoo import FAMILIES, build


def describe(name: str, input_shape: tuple[int, int, int], num_classes: int) -> dict[str, Any]:
    """One family's row: name, docstring summary, and the size of its default build."""
    module = importlib.import_module(FAMILIES[name])
    model = build(name, input_shape, num_classes)
    return {
        "name": name,
        "description": (module.__doc__ or "").strip().split("\n", 1)[0],
        "params": model.count_params(),
        "layers": len(model.layers),
        "features": int(model.get_layer("features").output.shape[-1]),
    }


def describe_families(
    input_shape: tuple[int, int, int] = (32, 32, 3), num_classes: int = 10
) -> list[dict[str, Any]]:
    """Describe every family in registry order.

    Returns:
        Dicts with `name`, `description` (first docstring line), `params` (all weights,
        trainable or not), `layers` (Keras layers, the input layer included) and
        `features` (width of the "features" vector a transfer-learning head sees).
    """
    return [describe(name, input_shape, num_classes) for name in FAMILIES]
