"""ZFNet (Zeiler & Fergus, 2013): AlexNet with a smaller, finer first layer and wider convs.

ZFNet's change to AlexNet was to shrink the first kernel and its stride (11x11/4 became
7x7/2) so early filters keep more detail, to move that stride into conv2, and to widen
conv3-conv5. The scaled version does the same relative to the scaled AlexNet: a 3x3/1 first
layer, a 5x5/2 second layer, and wider middle convolutions (`alexnet.CONVS["zfnet"]`).
Same total downsampling (16).
"""

from __future__ import annotations

from modelfleet.zoo.alexnet import variant

build = variant(
    "zfnet", "ZFNet: 3x3/1 first conv, 5x5/2 second, five convs, 3 pools, two dense layers."
)
