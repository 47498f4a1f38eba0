"""MobileNetV2 (Sandler et al., 2018): inverted residual blocks with depthwise convs, small.

Each block expands channels with a 1x1 conv, filters them with a 3x3 depthwise conv, and
projects back with a linear 1x1 conv (no activation: the "linear bottleneck"), adding the
input when shapes match. The stem does not downsample and the stage table keeps the first
five of the original's seven stages with fewer repeats, so 28-64 px images keep some spatial
extent; the final 1x1 conv has 320 channels instead of 1280.
"""

from __future__ import annotations

import keras
from keras import layers

from modelfleet.zoo import BN_MOMENTUM, channels, check_args
from modelfleet.zoo.blocks import conv_bn, pooled_head

# (expansion t, output channels c, repeats n, first stride s), as in the paper's Table 2.
STAGES: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 2, 2),
    (6, 64, 2, 2),
    (6, 96, 1, 1),
)
LAST_CHANNELS = 320


def conv_bn_relu6(
    x: keras.KerasTensor, filters: int, kernel: int, stride: int, name: str
) -> keras.KerasTensor:
    """Conv, batch norm, ReLU6."""
    x = conv_bn(x, filters, kernel, stride, name)
    return layers.ReLU(6.0, name=f"{name}_relu")(x)


def inverted_residual_block(
    x: keras.KerasTensor, filters: int, expansion: int, stride: int, name: str
) -> keras.KerasTensor:
    """Expand (1x1) -> depthwise 3x3 -> linear project (1x1), plus the input if shapes match."""
    in_channels = x.shape[-1]
    inputs = x
    if expansion != 1:
        x = conv_bn_relu6(x, in_channels * expansion, 1, 1, f"{name}_expand")
    x = layers.DepthwiseConv2D(
        3, strides=stride, padding="same", use_bias=False, name=f"{name}_depthwise"
    )(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_depthwise_bn")(x)
    x = layers.ReLU(6.0, name=f"{name}_depthwise_relu")(x)
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_project")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_project_bn")(x)
    if stride == 1 and in_channels == filters:
        x = layers.Add(name=f"{name}_add")([inputs, x])
    return x


def build(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    width: float = 1.0,
    dropout: float = 0.2,
) -> keras.Model:
    """MobileNetV2: stem, inverted residual stages, 1x1 conv, global pool, softmax."""
    downsampling = 1
    for _, _, _, stride in STAGES:
        downsampling *= stride
    input_shape = check_args(
        "mobilenet", input_shape, num_classes, min_side=downsampling, width=width, dropout=dropout
    )
    inputs = keras.Input(shape=input_shape, name="image")
    x = conv_bn_relu6(inputs, channels(32, width, 8), 3, 1, "stem")
    block = 0
    for expansion, filters, repeats, first_stride in STAGES:
        for i in range(repeats):
            block += 1
            stride = first_stride if i == 0 else 1
            x = inverted_residual_block(
                x, channels(filters, width, 8), expansion, stride, name=f"block{block}"
            )
    # Like keras.applications, the last conv is never narrowed below its nominal width.
    x = conv_bn_relu6(x, channels(LAST_CHANNELS, max(width, 1.0), 8), 1, 1, "top")
    outputs = pooled_head(x, num_classes, dropout=dropout)
    return keras.Model(inputs, outputs, name="mobilenetv2")
