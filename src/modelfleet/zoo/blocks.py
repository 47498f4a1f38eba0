"""Layers several families share: the conv + batch-norm unit and the pooled classifier head.

Every layer takes its name from the caller, so that the built models keep the layer names
their saved versions were trained with.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from modelfleet.zoo import BN_MOMENTUM


def conv_bn(
    x: keras.KerasTensor, filters: int, kernel: int, stride: int, name: str
) -> keras.KerasTensor:
    """Convolution (no bias: batch norm has one) followed by batch norm."""
    x = layers.Conv2D(
        filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    return layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)


def pooled_head(
    x: keras.KerasTensor,
    num_classes: int,
    *,
    dropout: float = 0.0,
    dense_names: Sequence[str] = (),
    dense: int = 0,
) -> keras.KerasTensor:
    """Global average pool ("features"), then the classifier ending in "predictions".

    With `dense_names`, one ReLU layer of `dense` units per name, each followed by its own
    dropout (`<name>_dropout`); without, a single dropout (named "dropout") before the
    softmax. A `dropout` of 0 adds no dropout layer.
    """
    x = layers.GlobalAveragePooling2D(name="features")(x)
    for name in dense_names:
        x = layers.Dense(dense, activation="relu", name=name)(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    if dropout and not dense_names:
        x = layers.Dropout(dropout, name="dropout")(x)
    return layers.Dense(num_classes, activation="softmax", name="predictions")(x)
