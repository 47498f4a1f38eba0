"""ZFNet (Zeiler & Fergus, 2013): AlexNet with a smaller, finer first layer and wider convs.

ZFNet's change to AlexNet was to shrink the first kernel and its stride (11x11/4 became
7x7/2) so early filters keep more detail, to move that stride into conv2, and to widen
conv3-conv5. The scaled version does the same relative to the scaled AlexNet: a 3x3/1 first
layer, a 5x5/2 second layer, and wider middle convolutions. Same total downsampling (16).
"""

from __future__ import annotations

import keras

from modelfleet.zoo.alexnet import build_alexnet

# (filters, kernel, stride, pool after) of conv1..conv5.
ZFNET_CONVS: tuple[tuple[int, int, int, bool], ...] = (
    (32, 3, 1, True),
    (64, 5, 2, True),
    (128, 3, 1, False),
    (128, 3, 1, False),
    (96, 3, 1, True),
)


def build(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    width: float = 1.0,
    dense: int = 256,
    dropout: float = 0.5,
) -> keras.Model:
    """ZFNet: 3x3/1 first conv, 5x5/2 second, five convs, 3 pools, two dense layers."""
    return build_alexnet(
        "zfnet", ZFNET_CONVS, input_shape, num_classes, width=width, dense=dense, dropout=dropout
    )
