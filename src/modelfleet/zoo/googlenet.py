"""GoogLeNet / Inception v1 (Szegedy et al., 2014): stacked Inception modules, scaled down.

A small stem (3x3 conv, 3x3/2 max pool) feeds two groups of two Inception modules with a
3x3/2 max pool between them, then global average pooling ("features"), dropout and the
softmax. Module widths are the originals' 3a, 3b, 4a, 4b divided by about four. The
auxiliary classifiers are left out: they only helped the 22-layer original converge.
"""

from __future__ import annotations

import keras
from keras import layers

from modelfleet.zoo import channels, check_args
from modelfleet.zoo.blocks import pooled_head

# (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj) per module; None marks a 3x3/2 pool.
MODULES: tuple[tuple[str, tuple[int, int, int, int, int, int] | None], ...] = (
    ("inception3a", (16, 24, 32, 4, 8, 8)),
    ("inception3b", (32, 32, 48, 8, 24, 16)),
    ("pool3", None),
    ("inception4a", (48, 24, 52, 4, 12, 16)),
    ("inception4b", (40, 28, 56, 6, 16, 16)),
)


def conv(x: keras.KerasTensor, filters: int, kernel: int, name: str) -> keras.KerasTensor:
    """'Same' convolution with ReLU, as every GoogLeNet convolution is."""
    return layers.Conv2D(filters, kernel, padding="same", activation="relu", name=name)(x)


def inception_block(
    x: keras.KerasTensor, filters: tuple[int, int, int, int, int, int], name: str
) -> keras.KerasTensor:
    """Four parallel branches (1x1, 1x1->3x3, 1x1->5x5, pool->1x1) concatenated on channels."""
    f1, f3r, f3, f5r, f5, fpool = filters
    b1 = conv(x, f1, 1, f"{name}_1x1")
    b3 = conv(conv(x, f3r, 1, f"{name}_3x3_reduce"), f3, 3, f"{name}_3x3")
    b5 = conv(conv(x, f5r, 1, f"{name}_5x5_reduce"), f5, 5, f"{name}_5x5")
    bp = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = conv(bp, fpool, 1, f"{name}_pool_proj")
    return layers.Concatenate(name=f"{name}_concat")([b1, b3, b5, bp])


def build(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    width: float = 1.0,
    dropout: float = 0.4,
) -> keras.Model:
    """GoogLeNet: stem, 2 + 2 Inception modules around a pool, global pool, softmax."""
    input_shape = check_args(
        "googlenet", input_shape, num_classes, min_side=4, width=width, dropout=dropout
    )
    inputs = keras.Input(shape=input_shape, name="image")
    x = conv(inputs, channels(32, width), 3, "stem_conv")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    for name, filters in MODULES:
        if filters is None:
            x = layers.MaxPooling2D(3, strides=2, padding="same", name=name)(x)
        else:
            scaled = tuple(channels(f, width) for f in filters)
            # six filter counts per module (MODULES); a tuple built by a loop has no length
            x = inception_block(x, scaled, name)  # type: ignore[arg-type]
    outputs = pooled_head(x, num_classes, dropout=dropout)
    return keras.Model(inputs, outputs, name="googlenet")
