"""CNN architecture zoo: `build(name, input_shape, num_classes, **hp) -> keras.Model`.

Families are registered by import path so that listing and validating names never
imports TensorFlow (the Airflow DAG processor reads the config).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from modelfleet.errors import ConfigError

if TYPE_CHECKING:
    import keras

FAMILIES: dict[str, str] = {
    "lenet": "modelfleet.zoo.lenet",
}


def build(
    name: str, input_shape: tuple[int, int, int], num_classes: int, **hparams: Any
) -> keras.Model:
    """Build an untrained model of family `name`."""
    if name not in FAMILIES:
        raise ConfigError(f"architecture {name!r} is not one of {', '.join(FAMILIES)}")
    module = importlib.import_module(FAMILIES[name])
    return module.build(input_shape, num_classes, **hparams)
