"""ResNet (He et al., 2015): residual blocks with identity shortcuts, CIFAR-style and small.

The CIFAR variant of the paper: a 3x3 stem, then three stages of basic blocks (two 3x3
convs with batch norm) of 16, 32 and 64 filters, the last two starting with stride 2,
then global average pooling ("features") and the softmax. Depth is 6n + 2 (default 20,
about 0.27M parameters). Shortcuts that change shape use a 1x1 projection (option B).
"""

from __future__ import annotations

import keras
from keras import layers

from modelfleet.errors import ConfigError
from modelfleet.zoo import channels, check_args
from modelfleet.zoo.blocks import conv_bn, pooled_head

STAGE_FILTERS: tuple[int, ...] = (16, 32, 64)


def residual_block(x: keras.KerasTensor, filters: int, stride: int, name: str) -> keras.KerasTensor:
    """Basic block: conv-bn-relu, conv-bn, add the (projected) shortcut, relu."""
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = conv_bn(x, filters, 1, stride, f"{name}_0")
    x = conv_bn(x, filters, 3, stride, f"{name}_1")
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = conv_bn(x, filters, 3, 1, f"{name}_2")
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def stack(
    x: keras.KerasTensor, filters: int, blocks: int, stride: int, name: str
) -> keras.KerasTensor:
    """`blocks` residual blocks; the first one downsamples by `stride`."""
    x = residual_block(x, filters, stride, f"{name}_block1")
    for i in range(2, blocks + 1):
        x = residual_block(x, filters, 1, f"{name}_block{i}")
    return x


def build(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    depth: int = 20,
    width: float = 1.0,
) -> keras.Model:
    """ResNet-`depth` for small images: stem, 3 stages of basic blocks, global pool."""
    if depth < 8 or (depth - 2) % 6:
        raise ConfigError(f"resnet depth must be 6n + 2 (8, 14, 20, 32, ...), got {depth}")
    input_shape = check_args(
        "resnet", input_shape, num_classes, min_side=2 ** (len(STAGE_FILTERS) - 1), width=width
    )
    blocks = (depth - 2) // 6
    inputs = keras.Input(shape=input_shape, name="image")
    x = conv_bn(inputs, channels(STAGE_FILTERS[0], width), 3, 1, "stem")
    x = layers.Activation("relu", name="stem_relu")(x)
    for stage, filters in enumerate(STAGE_FILTERS, start=1):
        stride = 1 if stage == 1 else 2
        x = stack(x, channels(filters, width), blocks, stride, name=f"stage{stage}")
    outputs = pooled_head(x, num_classes)
    return keras.Model(inputs, outputs, name=f"resnet{depth}")
