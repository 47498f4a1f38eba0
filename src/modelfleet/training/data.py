"""Load a data split (manifest + image files) into arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modelfleet.config import TrainSpec
from modelfleet.datasets.integrity import verify_split
from modelfleet.errors import DataError
from modelfleet.imaging import decode, to_model_input


def load_split(root: Path, spec: TrainSpec) -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 [n, h, w, c] in [0, 1] and labels as class indices.

    Every file is re-hashed against the (validated) manifest first: data changed
    after validation fails here, before any fitting.
    """
    index = {name: i for i, name in enumerate(spec.classes)}
    rows = verify_split(root)
    if not rows:
        raise DataError(f"{root}: the manifest lists no images")
    undecodable = [row.path for row in rows if not row.decoded]
    if undecodable:
        raise DataError(f"{root}: undecodable files passed validation: {undecodable[:10]}")
    unknown = sorted({row.label for row in rows} - set(index))
    if unknown:
        raise DataError(f"{root}: labels {unknown} are not classes of {spec.name!r}")
    x = np.stack(
        [
            to_model_input(
                decode((root / row.path).read_bytes()), spec.input_shape, spec.preprocess
            )
            for row in rows
        ]
    )
    y = np.array([index[row.label] for row in rows], dtype=np.int64)
    return x, y
