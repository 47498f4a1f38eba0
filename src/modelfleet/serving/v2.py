"""Open Inference Protocol (V2, as KServe and Triton speak it): health, metadata, infer.

Input tensors: FP32 in the model's scale, UINT8 pixels (divided by 255), or BYTES
holding encoded images (base64 strings) of any size and mode. Outputs:
`probabilities` (FP32 [n, classes]) and `label` (BYTES [n]).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response

from modelfleet import __version__
from modelfleet.errors import BadRequest, PayloadTooLarge
from modelfleet.serving.auth import Authenticator
from modelfleet.serving.pool import LoadedModel
from modelfleet.serving.service import MAX_INSTANCES, PredictionService, b64_bytes, shown
from modelfleet.serving.tensors import flat_floats, float_rows
from modelfleet.serving.wire import answer, json_body_doc, json_object, json_response

OUTPUTS = ("probabilities", "label")
INFER_DOC = json_body_doc(
    {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "inputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "shape": {
                            "type": "array",
                            "items": {"type": "integer", "minimum": 0},
                            "minItems": 1,
                        },
                        "datatype": {"type": "string", "enum": ["FP32", "UINT8", "BYTES"]},
                        "data": {"type": "array"},
                    },
                    "required": ["name", "shape", "datatype", "data"],
                },
            },
            "outputs": {"type": "array", "items": {"type": "object"}},
        },
        "required": ["inputs"],
    },
    {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["<base64 PNG>"]}]},
)


def router(service: PredictionService, auth: Authenticator, ready: Any) -> APIRouter:
    api = APIRouter(prefix="/v2", tags=["Open Inference Protocol (V2)"])

    @api.get("", summary="Server metadata")
    def server() -> Response:
        return json_response({"name": "modelfleet", "version": __version__, "extensions": []})

    @api.get("/health/live", summary="The server is up")
    def live() -> Response:
        return json_response({"live": True})

    @api.get("/health/ready", summary="The server has synced with the registry")
    def server_ready() -> Response:
        if ready():
            return json_response({"ready": True})
        return json_response(
            {"ready": False, "error": "not synced with the registry yet"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    async def model_of(request: Request, workflow: str, version: str | None) -> LoadedModel:
        principal = await auth.of(request)
        return service.resolve(principal, workflow, version=version)

    def metadata(request: Request, model: LoadedModel) -> Response:
        return answer(
            request,
            model,
            {
                "name": model.workflow,
                "versions": [m.version for m in service.pool.models(model.workflow)],
                "platform": "tensorflow_savedmodel",
                "inputs": [
                    {
                        "name": model.input_name,
                        "datatype": "FP32",
                        "shape": [-1, *model.input_shape],
                    },
                    {"name": "encoded_image", "datatype": "BYTES", "shape": [-1]},
                ],
                "outputs": [
                    {
                        "name": "probabilities",
                        "datatype": "FP32",
                        "shape": [-1, len(model.classes)],
                    },
                    {"name": "label", "datatype": "BYTES", "shape": [-1]},
                ],
                "parameters": {
                    "classes": model.classes,
                    "labels": service.pool.labels(model.workflow),
                },
            },
        )

    @api.get("/models/{workflow:segment}", summary="Model metadata (the application's pin)")
    async def model_metadata(workflow: str, request: Request) -> Response:
        return metadata(request, await model_of(request, workflow, None))

    @api.get(
        "/models/{workflow:segment}/versions/{version:segment}",
        summary="Model metadata (a version)",
    )
    async def version_metadata(workflow: str, version: str, request: Request) -> Response:
        return metadata(request, await model_of(request, workflow, version))

    @api.get("/models/{workflow:segment}/ready", summary="The pinned version is loaded")
    async def model_ready(workflow: str, request: Request) -> Response:
        model = await model_of(request, workflow, None)
        return answer(request, model, {"name": workflow, "ready": True})

    @api.get(
        "/models/{workflow:segment}/versions/{version:segment}/ready",
        summary="The version is loaded",
    )
    async def version_ready(workflow: str, version: str, request: Request) -> Response:
        model = await model_of(request, workflow, version)
        return answer(request, model, {"name": workflow, "ready": True})

    async def infer(request: Request, model: LoadedModel) -> Response:
        body = await json_object(request)
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or len(inputs) != 1:
            raise BadRequest("'inputs' must be a list holding exactly one input tensor")
        batch = await _input_batch(service, model, inputs[0])
        probs = await service.infer(model, batch)
        wanted = _requested_outputs(body.get("outputs"))
        outputs = []
        if "probabilities" in wanted:
            outputs.append(
                {
                    "name": "probabilities",
                    "datatype": "FP32",
                    "shape": list(probs.shape),
                    "data": probs.round(6).ravel(),
                }
            )
        if "label" in wanted:
            labels = [model.classes[i] for i in probs.argmax(axis=1)]
            outputs.append(
                {"name": "label", "datatype": "BYTES", "shape": [len(labels)], "data": labels}
            )
        reply: dict[str, Any] = {"model_name": model.workflow, "outputs": outputs}
        if isinstance(body.get("id"), str):
            reply["id"] = body["id"]
        return answer(request, model, reply)

    @api.post(
        "/models/{workflow:segment}/infer",
        summary="Inference (the application's pin)",
        openapi_extra=INFER_DOC,
    )
    async def infer_pinned(workflow: str, request: Request) -> Response:
        return await infer(request, await model_of(request, workflow, None))

    @api.post(
        "/models/{workflow:segment}/versions/{version:segment}/infer",
        summary="Inference (a version)",
        openapi_extra=INFER_DOC,
    )
    async def infer_version(workflow: str, version: str, request: Request) -> Response:
        return await infer(request, await model_of(request, workflow, version))

    return api


def _requested_outputs(requested: Any) -> set[str]:
    if requested is None:
        return set(OUTPUTS)
    names = (
        {o.get("name") for o in requested if isinstance(o, dict)}
        if isinstance(requested, list)
        else None
    )
    if not names or not names <= set(OUTPUTS):
        raise BadRequest(
            f"'outputs' may request {list(OUTPUTS)} by name, got {shown(repr(requested))}"
        )
    return names  # type: ignore[return-value]  # each is one of OUTPUTS (checked), a str


async def _input_batch(service: PredictionService, model: LoadedModel, tensor: Any) -> np.ndarray:
    if not isinstance(tensor, dict):
        raise BadRequest("each input must be an object with name, shape, datatype and data")
    name, shape, datatype, data = (tensor.get(k) for k in ("name", "shape", "datatype", "data"))
    what = f"input {shown(name) if isinstance(name, str) else repr(name)[:40]}"
    if (
        not isinstance(shape, list)
        or not shape
        or len(shape) > 8
        or not all(type(d) is int and 0 <= d <= 1_000_000 for d in shape)
    ):
        raise BadRequest(f"{what}: 'shape' must be a list of 1 to 8 integers from 0 to 1000000")
    if not isinstance(data, list):
        raise BadRequest(f"{what}: 'data' must be a list")
    if shape[0] > MAX_INSTANCES:
        raise PayloadTooLarge(f"{what}: at most {MAX_INSTANCES} rows per request, got {shape[0]}")
    if shape[0] == 0:
        raise BadRequest(f"{what}: no rows")
    if datatype == "BYTES":
        if len(shape) != 1 or shape[0] != len(data):
            raise BadRequest(f"{what}: BYTES input needs shape [n] with n = {len(data)} images")
        blobs = [
            b64_bytes(d["b64"] if isinstance(d, dict) and "b64" in d else d, f"{what}[{i}]")
            for i, d in enumerate(data)
        ]
        return await service.images(model, blobs, what)
    if datatype not in ("FP32", "UINT8"):
        raise BadRequest(
            f"{what}: datatype must be FP32, UINT8 or BYTES, got {shown(repr(datatype))}"
        )
    expected = list(model.input_shape)
    if shape[1:] != expected:
        raise BadRequest(
            f"{what}: shape {shape} does not match the model input [n, {', '.join(map(str, expected))}]"
        )
    size = int(np.prod(shape))
    if len(data) == size:  # flat, row-major: the protocol's own layout
        array = flat_floats(data, tuple(shape), f"{what} data")
    else:  # nested to the shape, as some clients send it
        nested = (
            float_rows(data, tuple(shape[1:]), f"{what} data") if len(data) == shape[0] else None
        )
        if nested is None:
            raise BadRequest(f"{what}: 'data' must hold {size} numbers for shape {shape}")
        array = nested
    if datatype == "UINT8":
        if array.min() < 0 or array.max() > 255 or not np.array_equal(array, np.round(array)):
            raise BadRequest(f"{what}: UINT8 data must be integers 0..255")
        array = array / 255.0
    return array
