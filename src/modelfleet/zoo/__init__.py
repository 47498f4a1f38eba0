"""CNN architecture zoo: `build(name, input_shape, num_classes, **hp) -> keras.Model`.

Families are registered by import path so that listing and validating names never
imports TensorFlow (the Airflow DAG processor reads the config).

Every family module exposes `build(input_shape, num_classes, **hparams)` and returns a
functional model whose convolutional base ends in a layer named "features" and whose
softmax output is named "predictions", so a feature extractor for transfer learning is
`keras.Model(m.input, m.get_layer("features").output)`.
"""

from __future__ import annotations

import importlib
import inspect
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from modelfleet.errors import ConfigError

if TYPE_CHECKING:
    import keras

__all__ = ["BN_MOMENTUM", "FAMILIES", "build", "channels", "check_args"]

# Batch-norm moving statistics must match the weights after a monthly retrain of a few
# dozen steps; with Keras' default 0.99 (and still with 0.9) inference-mode outputs
# collapsed to one class after 3-5 epochs on 240 images. 0.5 tracks the recent batches.
BN_MOMENTUM = 0.5

FAMILIES: dict[str, str] = {
    "lenet": "modelfleet.zoo.lenet",
    "alexnet": "modelfleet.zoo.alexnet",
    "zfnet": "modelfleet.zoo.zfnet",
    "googlenet": "modelfleet.zoo.googlenet",
    "vgg": "modelfleet.zoo.vgg",
    "resnet": "modelfleet.zoo.resnet",
    "mobilenet": "modelfleet.zoo.mobilenet",
}


def build(
    name: str, input_shape: tuple[int, int, int], num_classes: int, **hparams: Any
) -> keras.Model:
    """Build an untrained model of family `name`."""
    if name not in FAMILIES:
        raise ConfigError(f"architecture {name!r} is not one of {', '.join(FAMILIES)}")
    module = importlib.import_module(FAMILIES[name])
    try:
        # Bind first so that a misspelt hyperparameter is a config error, not a TypeError.
        inspect.signature(module.build).bind(input_shape, num_classes, **hparams)
    except TypeError as exc:
        raise ConfigError(f"architecture {name!r}: {exc}") from None
    return module.build(input_shape, num_classes, **hparams)


def check_args(
    family: str,
    input_shape: Sequence[int],
    num_classes: int,
    *,
    min_side: int,
    width: float = 1.0,
    dropout: float = 0.0,
) -> tuple[int, int, int]:
    """Validate the arguments every family takes; return the shape as a tuple.

    `min_side` is the smallest height/width the family's downsampling accepts: its total
    downsampling factor, so that the last feature map is at least 1x1.
    """
    shape = tuple(input_shape) if isinstance(input_shape, Sequence) else ()
    if len(shape) != 3 or not all(isinstance(d, numbers.Integral) and d > 0 for d in shape):
        raise ConfigError(
            f"{family} needs input_shape (height, width, channels) of positive ints, "
            f"got {input_shape!r}"
        )
    height, width_px, _ = shape
    if min(height, width_px) < min_side:
        raise ConfigError(
            f"{family} needs images of at least {min_side}x{min_side} pixels, "
            f"got {height}x{width_px}"
        )
    if num_classes < 2:
        raise ConfigError(f"{family} needs at least 2 classes, got {num_classes}")
    if not width > 0:
        raise ConfigError(f"{family} needs a width multiplier > 0, got {width}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"{family} needs dropout in [0, 1), got {dropout}")
    return (int(shape[0]), int(shape[1]), int(shape[2]))


def channels(base: int, width: float, divisor: int = 1) -> int:
    """Scale a channel count by `width`, rounded to a multiple of `divisor` (at least one)."""
    scaled = max(divisor, int(base * width + divisor / 2) // divisor * divisor)
    # Like keras.applications: never round down by more than 10%.
    if scaled < 0.9 * base * width:
        scaled += divisor
    return scaled
