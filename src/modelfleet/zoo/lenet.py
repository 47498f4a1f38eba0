"""LeNet-5 (LeCun et al., 1998), with ReLU and max pooling as is usual today."""

from __future__ import annotations

import keras
from keras import layers

from modelfleet.zoo import check_args


def build(
    input_shape: tuple[int, int, int], num_classes: int, *, dropout: float = 0.0
) -> keras.Model:
    """LeNet-5: two conv/pool stages and three dense layers."""
    input_shape = check_args("lenet", input_shape, num_classes, min_side=16, dropout=dropout)
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(6, 5, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(16, 5, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    # The flattened conv output ends the base; the dense layers are the head.
    x = layers.Flatten(name="features")(x)
    x = layers.Dense(120, activation="relu", name="fc1")(x)
    x = layers.Dense(84, activation="relu", name="fc2")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="lenet5")
