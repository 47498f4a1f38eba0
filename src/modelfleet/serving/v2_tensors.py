"""Open Inference Protocol (V2) tensors, whatever carried them: JSON `data`, the binary
tensor extension over HTTP (`binary_data_size`), gRPC's `raw_input_contents` or its
typed contents. One set of checks for all, so every way in is bounded alike and a
bad tensor gets the same message naming what was wrong.

Inputs: FP32 in the model's scale, UINT8 pixels (divided by 255), or BYTES holding
encoded images. Binary layout (the extension's and gRPC's raw contents): elements flat,
row-major, little-endian; each BYTES element prefixed by its length as 4 bytes,
little-endian. Outputs: `probabilities` (FP32 [n, classes]) and `label` (BYTES [n]).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelfleet.errors import BadRequest, PayloadTooLarge, ServingError
from modelfleet.serving.pool import LoadedModel
from modelfleet.serving.service import MAX_INSTANCES, PredictionService, b64_bytes, shown
from modelfleet.serving.tensors import MAX_MAGNITUDE, flat_floats, float_rows

DATATYPES = ("FP32", "UINT8", "BYTES")
OUTPUTS = ("probabilities", "label")
_ITEM_SIZE = {"FP32": 4, "UINT8": 1}
_PREFIX = struct.Struct("<I")


@dataclass(frozen=True)
class InputTensor:
    """One input as a request declared it. Exactly one of `data` (JSON values, or gRPC
    typed contents as a list), `raw` (binary bytes) is set; `blobs` is gRPC's typed
    BYTES contents (already bytes, not base64)."""

    what: str  # "input 'name'", for messages
    datatype: Any
    shape: Any
    data: list[Any] | None = None
    raw: bytes | None = None
    blobs: list[bytes] | None = None


@dataclass(frozen=True)
class OutputTensor:
    name: str
    datatype: str
    shape: list[int]
    values: np.ndarray | list[str]

    def raw(self) -> bytes:
        """The binary form: FP32 little-endian, BYTES length-prefixed UTF-8."""
        if isinstance(self.values, np.ndarray):
            return self.values.astype("<f4").tobytes()
        return pack_bytes([v.encode() for v in self.values])


def described(name: Any) -> str:
    return f"input {shown(name) if isinstance(name, str) else repr(name)[:40]}"


async def input_batch(
    service: PredictionService, model: LoadedModel, tensor: InputTensor
) -> np.ndarray:
    """The batch `tensor` means for `model` (BadRequest or PayloadTooLarge naming why not)."""
    what, shape, datatype = tensor.what, tensor.shape, tensor.datatype
    if (
        not isinstance(shape, list)
        or not shape
        or len(shape) > 8
        or not all(type(d) is int and 0 <= d <= 1_000_000 for d in shape)
    ):
        raise BadRequest(f"{what}: 'shape' must be a list of 1 to 8 integers from 0 to 1000000")
    if shape[0] > MAX_INSTANCES:
        raise PayloadTooLarge(f"{what}: at most {MAX_INSTANCES} rows per request, got {shape[0]}")
    if shape[0] == 0:
        raise BadRequest(f"{what}: no rows")
    if datatype not in DATATYPES:
        raise BadRequest(
            f"{what}: datatype must be FP32, UINT8 or BYTES, got {shown(repr(datatype))}"
        )
    if datatype == "BYTES":
        return await service.images(model, _blobs(tensor), what)
    expected = list(model.input_shape)
    if shape[1:] != expected:
        raise BadRequest(
            f"{what}: shape {shape} does not match the model input "
            f"[n, {', '.join(map(str, expected))}]"
        )
    array = _numbers(tensor, tuple(shape))
    if datatype == "UINT8":
        if tensor.raw is None and (
            array.min() < 0 or array.max() > 255 or not np.array_equal(array, np.round(array))
        ):
            raise BadRequest(f"{what}: UINT8 data must be integers 0..255")
        array = array / np.float32(255.0)
    return array


def _numbers(tensor: InputTensor, shape: tuple[int, ...]) -> np.ndarray:
    what, size = tensor.what, int(np.prod(shape))
    if tensor.raw is not None:
        expected = size * _ITEM_SIZE[tensor.datatype]
        if len(tensor.raw) != expected:
            raise BadRequest(
                f"{what}: {len(tensor.raw)} bytes of binary data, but shape {list(shape)} of "
                f"{tensor.datatype} needs {expected}"
            )
        dtype = "<f4" if tensor.datatype == "FP32" else "u1"
        array = np.frombuffer(tensor.raw, dtype=dtype).astype(np.float32).reshape(shape)
        _check_finite(array, what)
        return array
    data = tensor.data
    if not isinstance(data, list):
        raise BadRequest(f"{what}: 'data' must be a list")
    if len(data) == size:  # flat, row-major: the protocol's own layout
        return flat_floats(data, shape, f"{what} data")
    nested = float_rows(data, shape[1:], f"{what} data") if len(data) == shape[0] else None
    if nested is None:  # nested to the shape, as some clients send it, or wrong
        raise BadRequest(f"{what}: 'data' must hold {size} numbers for shape {list(shape)}")
    return nested


def _check_finite(array: np.ndarray, what: str) -> None:
    """Binary numbers get the JSON path's bounds: finite, within ±MAX_MAGNITUDE."""
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(array) <= MAX_MAGNITUDE)  # True for NaN too
    if bad.any():
        index = np.unravel_index(int(np.argmax(bad)), array.shape)
        value = float(array[index])
        where = "".join(f"[{i}]" for i in index)
        problem = "is not finite" if not np.isfinite(value) else f"is outside ±{MAX_MAGNITUDE:g}"
        raise BadRequest(
            f"{what} data{where}: {value:g} {problem} (inputs are in the model's scale)"
        )


def _blobs(tensor: InputTensor) -> list[bytes]:
    what, shape = tensor.what, tensor.shape
    if tensor.raw is not None:
        blobs = split_bytes(tensor.raw, what)
    elif tensor.blobs is not None:
        blobs = tensor.blobs
    elif isinstance(tensor.data, list):
        blobs = [
            b64_bytes(d["b64"] if isinstance(d, dict) and "b64" in d else d, f"{what}[{i}]")
            for i, d in enumerate(tensor.data)
        ]
    else:
        raise BadRequest(f"{what}: 'data' must be a list")
    if len(shape) != 1 or shape[0] != len(blobs):
        raise BadRequest(f"{what}: BYTES input needs shape [n] with n = {len(blobs)} images")
    return blobs


def split_bytes(raw: bytes, what: str) -> list[bytes]:
    """BYTES elements from their binary form: each a 4-byte little-endian length, then
    that many bytes. At most MAX_INSTANCES elements; the lengths must add up exactly."""
    items: list[bytes] = []
    offset = 0
    while offset < len(raw):
        if len(items) == MAX_INSTANCES:
            raise PayloadTooLarge(f"{what}: more than {MAX_INSTANCES} BYTES elements")
        if offset + 4 > len(raw):
            raise BadRequest(
                f"{what}: BYTES element {len(items)} has a cut-off length prefix "
                "(each element is a 4-byte little-endian length, then its bytes)"
            )
        (length,) = _PREFIX.unpack_from(raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise BadRequest(
                f"{what}: BYTES element {len(items)} declares {length} bytes, "
                f"only {len(raw) - offset} remain"
            )
        items.append(raw[offset : offset + length])
        offset += length
    return items


def pack_bytes(items: list[bytes]) -> bytes:
    return b"".join(_PREFIX.pack(len(item)) + item for item in items)


def requested_outputs(names: list[Any] | None) -> list[str]:
    """The outputs to send, in the model's order (None: all)."""
    if names is None:
        return list(OUTPUTS)
    if not names or not all(isinstance(n, str) for n in names) or not set(names) <= set(OUTPUTS):
        raise BadRequest(f"'outputs' may request {list(OUTPUTS)} by name, got {shown(repr(names))}")
    return [name for name in OUTPUTS if name in names]


def output_tensors(model: LoadedModel, probs: np.ndarray, wanted: list[str]) -> list[OutputTensor]:
    if probs.ndim != 2 or probs.shape[1] != len(model.classes):  # a broken export, not input
        raise ServingError(
            f"{model.workflow} {model.version}: the model answers shape {list(probs.shape)}, "
            f"but its export names {len(model.classes)} classes"
        )
    outputs = []
    for name in wanted:
        if name == "probabilities":
            outputs.append(OutputTensor(name, "FP32", list(probs.shape), probs))
        else:
            labels = [model.classes[i] for i in probs.argmax(axis=1)]
            outputs.append(OutputTensor(name, "BYTES", [len(labels)], labels))
    return outputs


async def infer_outputs(
    service: PredictionService, model: LoadedModel, tensor: InputTensor, wanted: list[str]
) -> list[OutputTensor]:
    """A V2 inference over either transport: decode `tensor` for `model`, run it, and
    return the `wanted` outputs."""
    batch = await input_batch(service, model, tensor)
    return output_tensors(model, await service.infer(model, batch), wanted)


def metadata(service: PredictionService, model: LoadedModel) -> dict[str, Any]:
    """Model metadata, as V2 HTTP sends it (gRPC sends the same fields)."""
    return {
        "name": model.workflow,
        "versions": [m.version for m in service.pool.models(model.workflow)],
        "platform": "tensorflow_savedmodel",
        "inputs": [
            {"name": model.input_name, "datatype": "FP32", "shape": [-1, *model.input_shape]},
            {"name": "encoded_image", "datatype": "BYTES", "shape": [-1]},
        ],
        "outputs": [
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, len(model.classes)]},
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
        ],
    }
