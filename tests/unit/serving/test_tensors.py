"""JSON rows to a float32 batch: the fast path gives exactly what np.asarray gives for
numbers, declines a nesting that is not the shape (the caller names the row), and
refuses with a 400 naming the leaf whatever is no finite number within range."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from modelfleet.errors import BadRequest
from modelfleet.serving.tensors import MAX_MAGNITUDE, flat_floats, float_rows

SHAPE = (2, 2, 3)


def image(*leaves: Any) -> list[Any]:
    """A 2x2x3 image, its 12 leaves given in order (cycled)."""
    flat = [leaves[i % len(leaves)] for i in range(12)]
    return [[flat[r * 6 + c * 3 : r * 6 + c * 3 + 3] for c in range(2)] for r in range(2)]


def test_numbers_convert_exactly_as_numpy_converts_them():
    tiny = float(np.finfo(np.float32).smallest_subnormal)
    rows = [image(0.1, -0.0, 1 / 3, 1e-40, tiny / 3, 0.5), image(0, 1, 255, -7, 999_999)]
    got = float_rows(rows, SHAPE, "instances")
    want = np.asarray(rows, dtype=np.float32)
    assert got is not None and got.tobytes() == want.tobytes() and got.flags.writeable


@pytest.mark.parametrize(
    ("leaf", "message"),
    [
        (True, "instances[1][0][1][2]: true is a boolean, not a number"),
        (False, "instances[1][0][1][2]: false is a boolean, not a number"),
        (None, "instances[1][0][1][2]: null is not a number"),
        ("0.5", "instances[1][0][1][2]: '0.5' is a string, not a number"),
        (float("nan"), "instances[1][0][1][2]: nan is not finite"),
        (float("inf"), "instances[1][0][1][2]: inf is not finite"),
        (-float("inf"), "instances[1][0][1][2]: -inf is not finite"),
        (3e38, "instances[1][0][1][2]: 3e+38 is outside ±1e+06"),
        (1e39, "instances[1][0][1][2]: 1e+39 is outside ±1e+06"),
        (-(2**63), "is outside ±1e+06"),
        (10**400, "an integer of 1329 bits is outside"),
        (MAX_MAGNITUDE * 1.5, "1500000.0 is outside"),
        ({}, "{} is an object, not a number"),
    ],
)
def test_a_leaf_that_is_no_number_in_range_is_named(leaf, message):
    rows = [image(0.5), image(0.5, 0.5, 0.5, 0.5, 0.5, leaf, 0.5)]
    with pytest.raises(BadRequest) as refused:
        float_rows(rows, SHAPE, "instances")
    assert message in str(refused.value)


def test_the_largest_allowed_magnitude_passes():
    rows = [image(MAX_MAGNITUDE, -MAX_MAGNITUDE)]
    assert float_rows(rows, SHAPE, "x") is not None


@pytest.mark.parametrize(
    "rows",
    [
        [[[[1, 2], [3, 4, 5, 6]], [[1, 2, 3], [1, 2, 3]]]],  # ragged, right count
        [[[[[1]] * 3] * 2] * 2],  # too deep
        [[[1, 2, 3], [1, 2, 3]]],  # too shallow
        [[[[], []], [[], []]]],  # empty lists
        [image(0.5), 7],  # a number for a row
    ],
    ids=["ragged", "too deep", "too shallow", "empty", "number for a row"],
)
def test_a_nesting_that_is_not_the_shape_is_declined(rows):
    assert float_rows(rows, SHAPE, "x") is None


def test_a_string_where_a_list_belongs_is_refused_not_read_as_characters():
    rows = [[["123", [1, 2, 3]], [[1, 2, 3], [1, 2, 3]]]]
    with pytest.raises(BadRequest, match=r"x\[0\]\[0\]\[0\]\[0\]: '1' is a string"):
        float_rows(rows, SHAPE, "x")


def test_one_instance_is_named_without_its_batch_index():
    with pytest.raises(BadRequest, match=r"^instances\[3\]\[0\]\[0\]\[1\]: true is a boolean"):
        float_rows([image(0.5, True)], SHAPE, "instances[3]", one=True)


def test_flat_data_is_named_in_its_shape():
    data = [0.5] * 11 + [float("nan")]
    with pytest.raises(BadRequest, match=r"input 'x' data\[0\]\[1\]\[1\]\[2\]: nan is not finite"):
        flat_floats(data, (1, *SHAPE), "input 'x' data")
    assert flat_floats([0.5] * 12, (1, *SHAPE), "x").shape == (1, *SHAPE)


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
@pytest.mark.parametrize("count", [1, 5])
def test_json_images_take_the_fast_path(shape, count):
    rng = np.random.default_rng(count)
    pixels = rng.random((count, *shape), dtype=np.float32)
    body = json.loads(json.dumps(pixels.tolist()))  # as a client sends them: shortest decimals
    body[0][0][0][0] = 1  # an int leaf, as JSON may have
    got = float_rows(body, shape, "instances")
    assert got is not None and got.tobytes() == np.asarray(body, dtype=np.float32).tobytes()
