"""VGG (Simonyan & Zisserman, 2014): stages of 3x3 convolutions and 2x2 max pooling, scaled down.

Configurations follow the paper's table with its fifth stage dropped (that stage exists
for 224 px inputs): "A" (VGG-11 pattern, default) has 1, 1, 2, 2 convs per stage and "D"
(VGG-16 pattern) 2, 2, 3, 3. Widths are 32-128 instead of 64-512, and global average
pooling ("features") replaces the flatten before two dropout-regularised dense layers.
"""

from __future__ import annotations

import keras
from keras import layers

from modelfleet.errors import ConfigError
from modelfleet.zoo import BN_MOMENTUM, channels, check_args
from modelfleet.zoo.blocks import pooled_head

WIDTHS: tuple[int, ...] = (32, 64, 128, 128)
CONFIGS: dict[str, tuple[int, ...]] = {"A": (1, 1, 2, 2), "D": (2, 2, 3, 3)}


def vgg_block(x: keras.KerasTensor, filters: int, convs: int, name: str) -> keras.KerasTensor:
    """`convs` 3x3 conv + BN + ReLU layers (the VGG-BN variant), then a 2x2 max pool."""
    for i in range(1, convs + 1):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i}")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn{i}")(x)
        x = layers.Activation("relu", name=f"{name}_relu{i}")(x)
    return layers.MaxPooling2D(2, padding="same", name=f"{name}_pool")(x)


def build(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    config: str = "A",
    width: float = 1.0,
    dense: int = 256,
    dropout: float = 0.5,
) -> keras.Model:
    """VGG: four conv stages, global pool, two dense layers, softmax."""
    if config not in CONFIGS:
        raise ConfigError(f"vgg config must be one of {', '.join(CONFIGS)}, got {config!r}")
    if dense < 1:
        raise ConfigError(f"vgg needs dense >= 1 units, got {dense}")
    input_shape = check_args(
        "vgg", input_shape, num_classes, min_side=2 ** len(WIDTHS), width=width, dropout=dropout
    )
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for stage, (filters, convs) in enumerate(zip(WIDTHS, CONFIGS[config], strict=True), start=1):
        x = vgg_block(x, channels(filters, width), convs, name=f"block{stage}")
    outputs = pooled_head(x, num_classes, dropout=dropout, dense_names=("fc1", "fc2"), dense=dense)
    return keras.Model(inputs, outputs, name=f"vgg_{config.lower()}")
