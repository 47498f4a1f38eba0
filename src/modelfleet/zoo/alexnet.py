"""AlexNet (Krizhevsky et al., 2012), scaled down for 28-64 px images on a CPU.

Five convolutions (a large strided first kernel, then 5x5 and three 3x3), max pooling
after the first, second and fifth, and two dropout-regularised dense layers. Local
response normalisation is replaced by batch normalisation (which lets the small
variants train from a few hundred images in a few epochs), and global
average pooling replaces the flatten so the head does not grow with the image size.
ZFNet reuses `build_alexnet` with a different first layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from modelfleet.errors import ConfigError
from modelfleet.zoo import BN_MOMENTUM, channels, check_args

# (filters, kernel, stride, pool after) of conv1..conv5; the originals are 96..384 wide.
ALEXNET_CONVS: tuple[tuple[int, int, int, bool], ...] = (
    (32, 5, 2, True),
    (64, 5, 1, True),
    (96, 3, 1, False),
    (96, 3, 1, False),
    (64, 3, 1, True),
)


def conv_block(
    x: keras.KerasTensor, filters: int, kernel: int, stride: int, pool: bool, name: str
) -> keras.KerasTensor:
    """Conv + BN + ReLU, optionally followed by 3x3/2 overlapping max pooling."""
    x = layers.Conv2D(
        filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    if pool:
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool")(x)
    return x


def build_alexnet(
    family: str,
    convs: Sequence[tuple[int, int, int, bool]],
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    width: float,
    dense: int,
    dropout: float,
) -> keras.Model:
    """Generic AlexNet-style builder: conv stack -> global pool ("features") -> 2 dense."""
    downsampling = 1
    for _, _, stride, pool in convs:
        downsampling *= stride * (2 if pool else 1)
    input_shape = check_args(
        family, input_shape, num_classes, min_side=downsampling, width=width, dropout=dropout
    )
    if dense < 1:
        raise ConfigError(f"{family} needs dense >= 1 units, got {dense}")
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for i, (filters, kernel, stride, pool) in enumerate(convs, start=1):
        x = conv_block(x, channels(filters, width), kernel, stride, pool, name=f"conv{i}")
    x = layers.GlobalAveragePooling2D(name="features")(x)
    for i in (6, 7):
        x = layers.Dense(dense, activation="relu", name=f"fc{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"fc{i}_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=family)


def build(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    width: float = 1.0,
    dense: int = 256,
    dropout: float = 0.5,
) -> keras.Model:
    """AlexNet: 5x5/2 first conv, five convs, 3 pools, two dense layers."""
    return build_alexnet(
        "alexnet",
        ALEXNET_CONVS,
        input_shape,
        num_classes,
        width=width,
        dense=dense,
        dropout=dropout,
    )
