"""JSON tensors to float32 arrays. Every leaf must be a JSON number (booleans are not
pixels), finite, and within ±MAX_MAGNITUDE; anything else is a 400 naming the leaf.

A JSON image is many small lists (32x32x3: 1,024 lists of 3 numbers), and np.asarray
spends most of its time on them. Here each level's lengths are checked with one
map(len), the level is flattened with list +=, the leaves' types are read with one
map(type), and one struct.pack_into copies all the numbers: about half np.asarray's
time (bench/json_rows.py). np.asarray would also take "0.5" and true as numbers.
"""

from __future__ import annotations

import math
import struct
from functools import reduce
from operator import iadd
from typing import Any

import numpy as np

from modelfleet.errors import BadRequest

# Inputs are in the model's scale ([0, 1] after training's preprocessing). Far larger
# values overflow float32 inside the network and come back as NaN predictions.
MAX_MAGNITUDE = 1e6
_NUMBERS = {int, float}
_JSON_KINDS = {bool: "a boolean", str: "a string", list: "a list", dict: "an object"}


def float_rows(
    rows: list[Any], shape: tuple[int, ...], what: str, *, one: bool = False
) -> np.ndarray | None:
    """`rows` as a float32 batch of shape (len(rows), *shape), or None when the lists
    are not nested exactly to `shape` (the caller then says which row is wrong).
    Raises BadRequest naming the first leaf that is no finite number in range (`one`:
    `rows` is [the instance that `what` names], so its index is left out of names)."""
    level: list[Any] = rows
    try:
        for size in shape:
            if size < 1 or list(map(len, level)) != [size] * len(level):
                return None
            level = reduce(iadd, level, [])  # one level flatter
    except TypeError:  # a number where a list belongs
        return None
    types = set(map(type, level))
    if list in types:  # nested deeper than the shape
        return None
    return _packed(level, (len(rows), *shape), what, skip=1 if one else 0, types=types)


def flat_floats(data: list[Any], shape: tuple[int, ...], what: str) -> np.ndarray:
    """A flat list of numbers (row-major, as Open Inference V2 sends them) in `shape`."""
    return _packed(data, shape, what)


def _packed(
    leaves: list[Any],
    shape: tuple[int, ...],
    what: str,
    skip: int = 0,
    types: set[type] | None = None,
) -> np.ndarray:
    batch = np.empty(shape, dtype=np.float32)
    if not (set(map(type, leaves)) if types is None else types) <= _NUMBERS:
        _refuse(leaves, shape, what, skip)
    try:
        # an ndarray is a writable buffer; numpy's stubs do not declare __buffer__
        struct.pack_into(f"{len(leaves)}f", batch, 0, *leaves)  # type: ignore[arg-type]
    except (OverflowError, struct.error):
        _refuse(leaves, shape, what, skip)
    with np.errstate(invalid="ignore"):
        in_range = np.abs(batch) <= MAX_MAGNITUDE  # False for NaN too
    if not in_range.all():
        _refuse(leaves, shape, what, skip)
    return batch


def _refuse(leaves: list[Any], shape: tuple[int, ...], what: str, skip: int) -> None:
    for index, leaf in enumerate(leaves):
        problem = leaf_problem(leaf)
        if problem is not None:
            where = "".join(f"[{i}]" for i in np.unravel_index(index, shape)[skip:])
            raise BadRequest(f"{what}{where}: {problem}")
    raise BadRequest(f"{what}: holds a value that is not a number")  # not reached


def leaf_problem(leaf: Any) -> str | None:
    """Why `leaf` is not a pixel value, or None if it is one."""
    if type(leaf) not in _NUMBERS:
        kind = _JSON_KINDS.get(type(leaf))
        return f"{_short(leaf)} is {kind + ', ' if kind else ''}not a number"
    if isinstance(leaf, float) and not math.isfinite(leaf):
        return f"{leaf} is not finite"
    if not abs(leaf) <= MAX_MAGNITUDE:
        return f"{_short(leaf)} is outside ±{MAX_MAGNITUDE:g} (inputs are in the model's scale)"
    return None


def _short(value: Any) -> str:
    """A leaf as the client wrote it, cut short (a message must stay small)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) and value.bit_length() > 128:  # repr refuses >4300 digits
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
