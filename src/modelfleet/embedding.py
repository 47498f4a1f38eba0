"""What the monitors see of a model input: two image statistics and a projected embedding.

One home for both, because they are computed in two places that must agree: by the
endpoint for every logged prediction (inside its compiled batch function), and by the
monitors for a version's training snapshot, the reference the live figures are tested
against.

The projection is a fixed Gaussian random matrix per version (Johnson-Lindenstrauss):
distances between embeddings survive it well enough for a drift test, and a logged row
stays PROJECTED_DIMS floats whatever the model's penultimate width.
"""

from __future__ import annotations

import hashlib

import numpy as np

PROJECTED_DIMS = 8


def projection(workflow: str, version: str, width: int) -> np.ndarray:
    """The (width, PROJECTED_DIMS) float32 matrix for `workflow@version`'s embeddings."""
    seed = int.from_bytes(hashlib.sha256(f"{workflow}@{version}".encode()).digest()[:8], "big")
    matrix = np.random.default_rng(seed).standard_normal((width, PROJECTED_DIMS))
    return (matrix / np.sqrt(PROJECTED_DIMS)).astype(np.float32)


def input_stats(batch: np.ndarray) -> np.ndarray:
    """(n, 2) float32: brightness and contrast of each model input, as validation
    measures an image: the mean and the standard deviation of its grey level in [0, 1].

    `batch` is NHWC as the model takes it, float in [0, 1] or uint8 in [0, 255].
    """
    scale = 255.0 if batch.dtype == np.uint8 else 1.0
    grey = batch.astype(np.float32).mean(axis=-1) / scale
    flat = grey.reshape(len(batch), -1)
    return np.stack([flat.mean(axis=1), flat.std(axis=1)], axis=1)
