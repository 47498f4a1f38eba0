"""The dataplane: who may ask for which version, inputs to tensors, tensors to answers.

Independent of protocol; `tfserving` and `v2` adapt it to their wire formats.
Every way in checks what it was given and names what was wrong (BadRequest).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
from typing import Any

import numpy as np
from PIL import Image
from starlette.concurrency import run_in_threadpool

from modelfleet.errors import BadRequest, DataError, ModelNotFound, PayloadTooLarge
from modelfleet.imaging import MAX_PIXELS, declared_pixels, decode, to_model_input
from modelfleet.naming import ALIAS_PINS, Version
from modelfleet.serving.auth import Principal
from modelfleet.serving.heap import trim_heap
from modelfleet.serving.limits import Capacity
from modelfleet.serving.pool import LoadedModel, ModelPool
from modelfleet.serving.prediction_log import PredictionLog, set_application
from modelfleet.serving.shadow import ShadowMirror
from modelfleet.serving.tensors import float_rows

MAX_INSTANCES = 256
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_VERSION_CHARS = 24  # v999999.999.999 or its integer: anything longer names nothing
TRIM_AFTER_PIXELS = 4_000_000  # decoded since the budget was last idle: then trim the heap


def version_number(text: str) -> int:
    """A version in a URL: TF Serving's integer (1002000) or the tag's vX.Y.Z."""
    try:
        if len(text) > MAX_VERSION_CHARS:
            raise ValueError(text)
        return int(text) if text.isascii() and text.isdigit() else Version.parse(text).as_int()
    except Exception:
        raise ModelNotFound(
            f"version {shown(text)} is neither an integer nor vX.Y.Z "
            f"(at most {MAX_VERSION_CHARS} characters)"
        ) from None


def shown(text: str, limit: int = 40) -> str:
    """Client input quoted in a message, cut short: an answer must stay small."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} chars)"


def pixel_budget(pixels: int, timeout_s: float) -> Capacity:
    """The pixels of images that one worker process decodes at once. When a burst of
    large decodes ends, the heap is trimmed (in a thread: it walks every arena)."""

    def trim(decoded: int) -> None:
        if decoded >= TRIM_AFTER_PIXELS:
            asyncio.get_running_loop().run_in_executor(None, trim_heap)

    return Capacity(pixels, "image decoding", timeout_s=timeout_s, on_idle=trim)


class PredictionService:
    def __init__(
        self,
        pool: ModelPool,
        decode_budget: Capacity | None = None,
        prediction_log: PredictionLog | None = None,
        shadow: ShadowMirror | None = None,
    ) -> None:
        self.pool = pool
        self.decode_budget = decode_budget or pixel_budget(64_000_000, 5.0)
        self.prediction_log = prediction_log  # samples every answer (monitor.sample_rate)
        self.shadow = shadow  # mirrors production to the candidate (release.shadow_fraction)

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
        set_application(principal.name)  # for the prediction log of this request
        if version is not None:
            return self.pool.resolve(workflow, version_int=version_number(version))
        if label is not None:
            return self.pool.resolve(workflow, label=label)
        if pin in ALIAS_PINS:
            return self.pool.resolve(workflow, label=pin)
        return self.pool.resolve(workflow, version_int=Version.parse(pin).as_int())

    async def infer(self, model: LoadedModel, batch: np.ndarray) -> np.ndarray:
        out = await model.batcher.submit(batch)
        probs = out[:, : len(model.classes)] if model.extra_columns else out
        if not np.isfinite(probs).all():  # inputs are bounded; a model may still overflow
            row = int(np.argwhere(~np.isfinite(probs))[0][0])
            raise BadRequest(
                f"row {row}: the model's output is not finite for this input; "
                "send pixels in the model's scale ([0, 1])"
            )
        if self.prediction_log is not None:
            self.prediction_log.record(model, out)  # a queue append: no I/O here
        if self.shadow is not None:
            self.shadow.mirror(model, batch, probs)  # schedules a task: the answer is done
        return probs

    # -- inputs --

    async def tensor_rows(self, model: LoadedModel, rows: Any, what: str) -> np.ndarray:
        """A batch from a list of rows: each a tensor of the input shape or {"b64": image}."""
        if not isinstance(rows, list) or not rows:
            raise BadRequest(f"{what} must be a non-empty list")
        if len(rows) > MAX_INSTANCES:
            raise PayloadTooLarge(f"at most {MAX_INSTANCES} {what} per request, got {len(rows)}")
        if isinstance(rows[0], list):  # the common case: one array conversion for all rows
            batch = float_rows(rows, model.input_shape, what)
            if batch is not None:
                return batch
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
                f"{{{model.input_name!r}: <tensor>}}, got keys {sorted(map(shown, row))}"
            )
        return check_tensor(model, row, what)

    async def image(self, model: LoadedModel, data: bytes, what: str) -> np.ndarray:
        """Encoded image bytes of any size and mode -> the model's input, as training did."""
        pixels: np.ndarray = (await self.images(model, [data], what, one=True))[0]
        return pixels

    async def images(
        self, model: LoadedModel, blobs: list[bytes], what: str, *, one: bool = False
    ) -> np.ndarray:
        """Many encoded images in one trip to the thread pool (a hop costs more than
        decoding a small image), within the worker's pixel budget: they decode one after
        the other, so the request holds the pixels of its largest image."""
        if not blobs:
            raise BadRequest(f"{what} must hold at least one image")
        if len(blobs) > MAX_INSTANCES:
            raise PayloadTooLarge(f"at most {MAX_INSTANCES} images per request, got {len(blobs)}")
        names = [what] if one else [f"{what}[{i}]" for i in range(len(blobs))]
        for name, data in zip(names, blobs, strict=True):
            if len(data) > MAX_IMAGE_BYTES:
                raise PayloadTooLarge(
                    f"{name}: image of {len(data)} bytes exceeds {MAX_IMAGE_BYTES}"
                )
        pixels = [declared_pixels(data) for data in blobs]  # headers only: cheap
        if None in pixels:  # another format: Pillow reads its header, off the event loop
            pixels = await run_in_threadpool(_opened_pixels, blobs, pixels)
        largest = max(p or 0 for p in pixels)
        budget = self.decode_budget
        if largest > min(budget.capacity, MAX_PIXELS):
            index = [p or 0 for p in pixels].index(largest)
            raise BadRequest(
                f"{names[index]}: image too large: {largest:,} pixels exceeds the limit of "
                f"{min(budget.capacity, MAX_PIXELS):,} (decompression bomb?)"
            )
        async with budget.hold(largest):
            return await run_in_threadpool(_preprocess_all, blobs, model, names)

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


def _opened_pixels(blobs: list[bytes], pixels: list[int | None]) -> list[int | None]:
    """Fill in what the cheap probe could not read, from Pillow's header parse; an image
    Pillow cannot open counts 0 (its decode fails at once, with the reason)."""
    out: list[int | None] = []
    for data, known in zip(blobs, pixels, strict=True):
        if known is None:
            try:
                with Image.open(io.BytesIO(data)) as probe:
                    known = probe.width * probe.height
            except Exception:  # any reason Pillow refuses: decode() names it
                known = 0
        out.append(known)
    return out


def _preprocess_all(blobs: list[bytes], model: LoadedModel, names: list[str]) -> np.ndarray:
    """Decode and fit each image as the version's training did (its recorded policy)."""
    out = np.empty((len(blobs), *model.input_shape), dtype=np.float32)
    for i, (data, name) in enumerate(zip(blobs, names, strict=True)):
        try:
            out[i] = to_model_input(decode(data), model.input_shape, model.preprocess)
        except DataError as exc:
            raise BadRequest(f"{name}: {exc}") from None
    return out


def b64_bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise BadRequest(f"{what}: 'b64' must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{what}: 'b64' is not valid base64") from None


def check_tensor(model: LoadedModel, value: Any, what: str) -> np.ndarray:
    """One instance: a tensor of exactly the model's input shape, of numbers in range."""
    batch = (
        float_rows([value], model.input_shape, what, one=True) if isinstance(value, list) else None
    )
    if batch is None:
        dims = _dims(value)
        if dims is None:
            raise BadRequest(
                f"{what}: expected a numeric tensor of shape {list(model.input_shape)} "
                'or {"b64": ...}'
            )
        raise BadRequest(
            f"{what}: shape {dims} does not match the model input {list(model.input_shape)}"
        )
    instance: np.ndarray = batch[0]
    return instance


def _dims(value: Any) -> list[int] | None:
    """The shape of nested lists along the first elements, if they end in a number."""
    dims: list[int] = []
    while isinstance(value, list):
        dims.append(len(value))
        if not value:
            return dims
        value = value[0]
    return dims if dims and type(value) in (int, float) else None
