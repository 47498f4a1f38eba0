"""The dataplane: who may ask for which version, inputs to tensors, tensors to answers.

Independent of protocol; `tfserving` and `v2` adapt it to their wire formats.
Every way in checks what it was given and names what was wrong (BadRequest).
"""

from __future__ import annotations

import base64
import binascii
import struct
from functools import reduce
from operator import iadd
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool

from modelfleet.errors import BadRequest, DataError, ModelNotFound, PayloadTooLarge
from modelfleet.imaging import decode, to_model_input
from modelfleet.serving.auth import Principal
from modelfleet.serving.pool import LoadedModel, ModelPool
from modelfleet.versioning.naming import ALIAS_PINS, Version

MAX_INSTANCES = 256
MAX_IMAGE_BYTES = 10 * 1024 * 1024


def version_number(text: str) -> int:
    """A version in a URL: TF Serving's integer (1002000) or the tag's vX.Y.Z."""
    try:
        return int(text) if text.isdigit() else Version.parse(text).as_int()
    except Exception:
        raise ModelNotFound(f"version {text!r} is neither an integer nor vX.Y.Z") from None


class PredictionService:
    def __init__(self, pool: ModelPool) -> None:
        self.pool = pool

    def resolve(
        self,
        principal: Principal,
        workflow: str,
        *,
        version: str | None = None,
        label: str | None = None,
    ) -> LoadedModel:
        """The model a request means: an explicit version or label if the URL names one,
        else the application's pin for the workflow (403 without a grant)."""
        pin = principal.pin_for(workflow)
        if version is not None:
            return self.pool.resolve(workflow, version_int=version_number(version))
        if label is not None:
            return self.pool.resolve(workflow, label=label)
        if pin in ALIAS_PINS:
            return self.pool.resolve(workflow, label=pin)
        return self.pool.resolve(workflow, version_int=Version.parse(pin).as_int())

    async def infer(self, model: LoadedModel, batch: np.ndarray) -> np.ndarray:
        return await model.batcher.submit(batch)

    # -- inputs --

    async def tensor_rows(self, model: LoadedModel, rows: Any, what: str) -> np.ndarray:
        """A batch from a list of rows: each a tensor of the input shape or {"b64": image}."""
        if not isinstance(rows, list) or not rows:
            raise BadRequest(f"{what} must be a non-empty list")
        if len(rows) > MAX_INSTANCES:
            raise PayloadTooLarge(f"at most {MAX_INSTANCES} {what} per request, got {len(rows)}")
        if isinstance(rows[0], list):  # the common case: one array conversion for all rows
            batch = float_batch(rows, model.input_shape)
            if batch is not None:
                return check_finite(batch, what)
        items = [await self._row(model, row, f"{what}[{i}]") for i, row in enumerate(rows)]
        return np.stack(items)

    async def _row(self, model: LoadedModel, row: Any, what: str) -> np.ndarray:
        if isinstance(row, dict):
            if set(row) == {"b64"}:
                return await self.image(model, b64_bytes(row["b64"], what), what)
            if set(row) == {model.input_name}:  # TF Serving row format with named inputs
                return await self._row(model, row[model.input_name], what)
            raise BadRequest(
                f'{what}: an object must be {{"b64": <base64 image>}} or '
                f"{{{model.input_name!r}: <tensor>}}, got keys {sorted(row)}"
            )
        return check_tensor(model, row, what)

    async def image(self, model: LoadedModel, data: bytes, what: str) -> np.ndarray:
        """Encoded image bytes of any size and mode -> the model's input, as training did."""
        if len(data) > MAX_IMAGE_BYTES:
            raise PayloadTooLarge(f"{what}: image of {len(data)} bytes exceeds {MAX_IMAGE_BYTES}")
        try:
            return await run_in_threadpool(_preprocess, data, model.input_shape)
        except DataError as exc:
            raise BadRequest(f"{what}: {exc}") from None

    async def images(self, model: LoadedModel, blobs: list[bytes], what: str) -> np.ndarray:
        """Many encoded images in one trip to the thread pool (a hop costs more than
        decoding a small image)."""
        if not blobs:
            raise BadRequest(f"{what} must hold at least one image")
        if len(blobs) > MAX_INSTANCES:
            raise PayloadTooLarge(f"at most {MAX_INSTANCES} images per request, got {len(blobs)}")
        for i, data in enumerate(blobs):
            if len(data) > MAX_IMAGE_BYTES:
                raise PayloadTooLarge(
                    f"{what}[{i}]: image of {len(data)} bytes exceeds {MAX_IMAGE_BYTES}"
                )
        return await run_in_threadpool(_preprocess_all, blobs, model.input_shape, what)

    # -- outputs --

    @staticmethod
    def ranked(model: LoadedModel, probs: np.ndarray, top_k: int | None = None) -> list[Any]:
        """[(label, score)] best first, per row."""
        k = len(model.classes) if top_k is None else max(1, min(top_k, len(model.classes)))
        order = np.argsort(-probs, axis=1)[:, :k]
        return [
            [(model.classes[i], round(float(p[i]), 6)) for i in row]
            for row, p in zip(order, probs, strict=True)
        ]


def _preprocess(data: bytes, input_shape: tuple[int, int, int]) -> np.ndarray:
    return to_model_input(decode(data), input_shape)


def _preprocess_all(blobs: list[bytes], input_shape: tuple[int, int, int], what: str) -> np.ndarray:
    out = np.empty((len(blobs), *input_shape), dtype=np.float32)
    for i, data in enumerate(blobs):
        try:
            out[i] = _preprocess(data, input_shape)
        except DataError as exc:
            raise BadRequest(f"{what}[{i}]: {exc}") from None
    return out


def b64_bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise BadRequest(f"{what}: 'b64' must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{what}: 'b64' is not valid base64") from None


def float_batch(rows: list[Any], shape: tuple[int, ...]) -> np.ndarray | None:
    """np.asarray(rows, dtype=np.float32) if that has shape (len(rows), *shape), else None."""
    batch = packed_floats(rows, shape)
    if batch is not None:
        return batch
    try:
        batch = np.asarray(rows, dtype=np.float32)
    except (TypeError, ValueError):
        return None
    return batch if batch.shape[1:] == shape else None


def packed_floats(rows: list[Any], shape: tuple[int, ...]) -> np.ndarray | None:
    """float_batch's fast path, for JSON images: lists nested exactly to `shape` with
    int, float or bool leaves; None for anything else, which numpy then takes as before.

    A JSON image is many small lists (32x32x3: 1,024 lists of 3 numbers), and
    np.asarray spends most of its time on them. Here each level's lengths are checked
    with one map(len), the level is flattened with list +=, and one struct.pack_into
    copies all the numbers: about half np.asarray's time (bench/json_rows.py). A str or
    dict where a list belongs has a len too, but flattens into str leaves (no dimension
    is 0), which struct refuses.
    """
    level = rows
    try:
        for size in shape:
            if size < 1 or list(map(len, level)) != [size] * len(level):
                return None
            level = reduce(iadd, level, [])  # one level flatter
        batch = np.empty((len(rows), *shape), dtype=np.float32)
        struct.pack_into(f"{len(level)}f", batch, 0, *level)
    except (TypeError, OverflowError, struct.error):
        return None
    return batch


def check_tensor(model: LoadedModel, value: Any, what: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError, OverflowError):
        raise BadRequest(
            f'{what}: expected a numeric tensor of shape {list(model.input_shape)} or {{"b64": ...}}'
        ) from None
    if array.shape != model.input_shape:
        raise BadRequest(
            f"{what}: shape {list(array.shape)} does not match the model input "
            f"{list(model.input_shape)}"
        )
    return check_finite(array, what)


def check_finite(array: np.ndarray, what: str) -> np.ndarray:
    if not np.isfinite(array).all():
        raise BadRequest(f"{what}: contains NaN or infinity")
    return array
