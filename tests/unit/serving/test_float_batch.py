"""JSON rows to a float32 batch: the fast path (struct) gives exactly what np.asarray
gave, and declines whatever it cannot take so that numpy's way still decides."""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import pytest

from modelfleet.serving.service import float_batch, packed_floats

SHAPE = (2, 2, 3)


def numpy_way(rows: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """What tensor_rows did before the fast path."""
    try:
        batch = np.asarray(rows, dtype=np.float32)
    except (TypeError, ValueError):
        return None
    return batch if batch.shape[1:] == shape else None


def image(*leaves: Any) -> list[Any]:
    """A 2x2x3 image, its 12 leaves given in order (cycled)."""
    flat = [leaves[i % len(leaves)] for i in range(12)]
    return [[flat[r * 6 + c * 3 : r * 6 + c * 3 + 3] for c in range(2)] for r in range(2)]


def same(got: np.ndarray | None, want: np.ndarray | None) -> bool:
    if got is None or want is None:
        return got is None and want is None
    return (
        got.dtype == want.dtype
        and got.shape == want.shape
        and got.tobytes() == want.tobytes()
        and got.flags.writeable
        and got.flags.c_contiguous
    )


TINY = float(np.finfo(np.float32).smallest_subnormal)
CASES = {
    "floats": [image(0.1, -0.0, 1 / 3, 1e-40, TINY / 3, 3.4028235e38, 0.5)],
    "ints and bools": [image(0, 1, 255, -7, 2**53 + 1, 2**64 - 1, True, False)],
    "two rows": [image(0.25), image(0.75)],
    "overflow to inf": [image(1e39, -1e39)],
    "null leaf": [image(0.5, None)],
    "numeric string leaf": [image(0.5, "0.5")],
    "word leaf": [image(0.5, "a")],
    "list leaf": [image(0.5, [0.5])],
    "object leaf": [image(0.5, {})],
    "string for a pixel": [[["123", [1, 2, 3]], [[1, 2, 3], [1, 2, 3]]]],
    "object for a pixel": [[[{"1": 0, "2": 0, "3": 0}, [1, 2, 3]], [[1, 2, 3], [1, 2, 3]]]],
    "string for a row": [["12", [[1, 2, 3], [1, 2, 3]]]],
    "ragged, right count": [[[[1, 2], [3, 4, 5, 6]], [[1, 2, 3], [1, 2, 3]]]],
    "too deep": [[[[[1]] * 3] * 2] * 2],
    "too shallow": [[[1, 2, 3], [1, 2, 3]]],
    "empty lists": [[[[], []], [[], []]]],
    "number for a row": [image(0.5), 7],
    "image then object": [image(0.5), {"b64": "AAAA"}],
}


@pytest.mark.parametrize("rows", CASES.values(), ids=CASES.keys())
def test_float_batch_is_numpy_s_conversion(rows):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's overflow to inf
        assert same(float_batch(rows, SHAPE), numpy_way(rows, SHAPE))


@pytest.mark.parametrize(
    "case",
    [
        "null leaf",
        "numeric string leaf",
        "string for a pixel",
        "object for a pixel",
        "string for a row",
        "ragged, right count",
    ],
)
def test_the_fast_path_declines_what_only_numpy_decides(case):
    assert packed_floats(CASES[case], SHAPE) is None


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
@pytest.mark.parametrize("rows", [1, 5])
def test_the_fast_path_takes_json_images(shape, rows):
    rng = np.random.default_rng(rows)
    pixels = rng.random((rows, *shape), dtype=np.float32)
    body = json.loads(json.dumps(pixels.tolist()))  # as a client sends them: shortest decimals
    body[0][0][0][0] = 1  # an int leaf, as JSON may have
    got = packed_floats(body, shape)
    assert got is not None and same(got, numpy_way(body, shape))
