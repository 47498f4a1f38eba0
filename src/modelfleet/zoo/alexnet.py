"""AlexNet (Krizhevsky et al., 2012), scaled down for 28-64 px images on a CPU.

Five convolutions (a large strided first kernel, then 5x5 and three 3x3), max pooling
after the first, second and fifth, and two dropout-regularised dense layers. Local
response normalisation is replaced by batch normalisation (which lets the small
variants train from a few hundred images in a few epochs), and global
average pooling replaces the flatten so the head does not grow with the image size.
ZFNet reuses `build_alexnet` with a different first layer.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

from modelfleet.errors import ConfigError
from modelfleet.zoo import channels, check_args
from modelfleet.zoo.blocks import conv_bn, pooled_head

# (filters, kernel, stride, pool after) of conv1..conv5 per variant; the originals are
# 96..384 wide. ZFNet (see `zoo.zfnet`) has a 3x3/1 first layer, moves the stride into
# conv2 and widens conv3-conv5; its total downsampling is AlexNet's (16).
CONVS: dict[str, tuple[tuple[int, int, int, bool], ...]] = {
    "alexnet": (
        (32, 5, 2, True),
        (64, 5, 1, True),
        (96, 3, 1, False),
        (96, 3, 1, False),
        (64, 3, 1, True),
    ),
    "zfnet": (
        (32, 3, 1, True),
        (64, 5, 2, True),
        (128, 3, 1, False),
        (128, 3, 1, False),
        (96, 3, 1, True),
    ),
}


def conv_block(
    x: keras.KerasTensor, filters: int, kernel: int, stride: int, pool: bool, name: str
) -> keras.KerasTensor:
    """Conv + BN + ReLU, optionally followed by 3x3/2 overlapping max pooling."""
    x = conv_bn(x, filters, kernel, stride, name)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    if pool:
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool")(x)
    return x


def build_alexnet(
    family: str,
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    width: float,
    dense: int,
    dropout: float,
) -> keras.Model:
    """Generic AlexNet-style builder: conv stack -> global pool ("features") -> 2 dense."""
    convs = CONVS[family]
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
    outputs = pooled_head(x, num_classes, dropout=dropout, dense_names=("fc6", "fc7"), dense=dense)
    return keras.Model(inputs, outputs, name=family)


def variant(family: str, summary: str) -> Callable[..., keras.Model]:
    """The `build(input_shape, num_classes, *, width, dense, dropout)` of one variant."""

    def build(
        input_shape: tuple[int, int, int],
        num_classes: int,
        *,
        width: float = 1.0,
        dense: int = 256,
        dropout: float = 0.5,
    ) -> keras.Model:
        return build_alexnet(
            family, input_shape, num_classes, width=width, dense=dense, dropout=dropout
        )

    build.__doc__ = summary
    return build


build = variant("alexnet", "AlexNet: 5x5/2 first conv, five convs, 3 pools, two dense layers.")
