"""Open Inference Protocol (V2, as KServe and Triton speak it) over HTTP: health,
metadata, infer; JSON, or JSON with the binary tensor extension on input and output
(`Inference-Header-Content-Length`, `binary_data_size`). The tensors themselves:
`v2_tensors`; the same protocol over gRPC: `grpc/`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from modelfleet import __version__
from modelfleet.errors import BadRequest
from modelfleet.serving.auth import Authenticator
from modelfleet.serving.pool import LoadedModel
from modelfleet.serving.service import PredictionService, shown
from modelfleet.serving.v2_tensors import (
    DATATYPES,
    OUTPUTS,
    InputTensor,
    described,
    infer_outputs,
    metadata,
    requested_outputs,
)
from modelfleet.serving.wire import answer, binary_answer, json_body_doc, json_of, json_response

HEADER_LENGTH = "Inference-Header-Content-Length"
EXTENSIONS = ["binary_tensor_data"]
_PARAMETERS = {"type": "object", "additionalProperties": True}
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
                        "datatype": {"type": "string", "enum": list(DATATYPES)},
                        "data": {"type": "array"},
                        "parameters": _PARAMETERS,
                    },
                    "required": ["name", "shape", "datatype", "data"],
                },
            },
            "outputs": {"type": "array", "items": {"type": "object"}},
            "parameters": _PARAMETERS,
        },
        "required": ["inputs"],
    },
    {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["<base64 PNG>"]}]},
)
# With binary outputs requested, the answer is the JSON and then the outputs' bytes.
INFER_DOC["responses"] = {
    "200": {
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    }
}


def router(service: PredictionService, auth: Authenticator, ready: Any) -> APIRouter:
    api = APIRouter(prefix="/v2", tags=["Open Inference Protocol (V2)"])

    @api.get("", summary="Server metadata")
    def server() -> Response:
        return json_response(
            {"name": "modelfleet", "version": __version__, "extensions": EXTENSIONS}
        )

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

    def model_metadata_of(request: Request, model: LoadedModel) -> Response:
        described = metadata(service, model)
        described["parameters"] = {
            "classes": model.classes,
            "labels": service.pool.labels(model.workflow),
        }
        return answer(request, model, described)

    @api.get("/models/{workflow:segment}", summary="Model metadata (the application's pin)")
    async def model_metadata(workflow: str, request: Request) -> Response:
        return model_metadata_of(request, await model_of(request, workflow, None))

    @api.get(
        "/models/{workflow:segment}/versions/{version:segment}",
        summary="Model metadata (a version)",
    )
    async def version_metadata(workflow: str, version: str, request: Request) -> Response:
        return model_metadata_of(request, await model_of(request, workflow, version))

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
        body, binary = await _infer_body(request)
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or len(inputs) != 1:
            raise BadRequest("'inputs' must be a list holding exactly one input tensor")
        wanted, as_binary = _requested(body)
        outputs = await infer_outputs(service, model, _input_tensor(inputs[0], binary), wanted)
        reply: dict[str, Any] = {"model_name": model.workflow, "outputs": []}
        if isinstance(body.get("id"), str):
            reply["id"] = body["id"]
        raws = []
        for output in outputs:
            entry: dict[str, Any] = {
                "name": output.name,
                "datatype": output.datatype,
                "shape": output.shape,
            }
            if output.name in as_binary:
                raws.append(output.raw())
                entry["parameters"] = {"binary_data_size": len(raws[-1])}
            else:
                values = output.values
                entry["data"] = values if isinstance(values, list) else values.round(6).ravel()
            reply["outputs"].append(entry)
        if not raws:
            return answer(request, model, reply)
        return binary_answer(request, model, reply, raws)

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


def _requested(body: dict[str, Any]) -> tuple[list[str], set[str]]:
    """The outputs asked for, and which of them in binary: the request's
    `parameters.binary_data_output`, overridden per output by `parameters.binary_data`."""
    every = _flag(body.get("parameters"), "binary_data_output", "request")
    requested = body.get("outputs")
    if requested is None:
        return requested_outputs(None), set(OUTPUTS) if every else set()
    if not isinstance(requested, list) or not all(isinstance(o, dict) for o in requested):
        raise BadRequest(
            f"'outputs' may request {list(OUTPUTS)} by name, got {shown(repr(requested))}"
        )
    wanted = requested_outputs([o.get("name") for o in requested])
    binary = set()
    for output in requested:
        own = _flag(output.get("parameters"), "binary_data", f"output {shown(output['name'])}")
        if own or (own is None and every):
            binary.add(output["name"])
    return wanted, binary


def _flag(parameters: Any, name: str, what: str) -> bool | None:
    if parameters is None:
        return None
    if not isinstance(parameters, dict):
        raise BadRequest(f"{what}: 'parameters' must be an object")
    value = parameters.get(name)
    if value is not None and not isinstance(value, bool):
        raise BadRequest(f"{what}: parameter {name!r} must be true or false")
    return value


async def _infer_body(request: Request) -> tuple[dict[str, Any], bytes | None]:
    """The JSON part of an infer request, and its binary part when the request uses the
    binary tensor extension (`Inference-Header-Content-Length`: the JSON's length)."""
    raw = await request.body()
    declared = request.headers.get(HEADER_LENGTH)
    if declared is None:
        return json_of(raw), None
    if (
        not (declared.isascii() and declared.isdigit())
        or len(declared) > 12
        or int(declared) > len(raw)
    ):
        raise BadRequest(
            f"{HEADER_LENGTH} must be the JSON header's length in bytes, at most the body's "
            f"{len(raw)}; got {shown(declared)}"
        )
    length = int(declared)
    return json_of(raw[:length]), raw[length:]


def _input_tensor(tensor: Any, binary: bytes | None) -> InputTensor:
    """One input of the JSON, its data in `data` or (binary extension) in the bytes after
    the header, as many as its `parameters.binary_data_size` says."""
    if not isinstance(tensor, dict):
        raise BadRequest("each input must be an object with name, shape, datatype and data")
    what = described(tensor.get("name"))
    shape, datatype = tensor.get("shape"), tensor.get("datatype")
    parameters = tensor.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise BadRequest(f"{what}: 'parameters' must be an object")
    size = (parameters or {}).get("binary_data_size")
    if size is None:
        if binary:
            raise BadRequest(
                f"{len(binary)} bytes follow the JSON header, but no input declares "
                "'binary_data_size'"
            )
        data = tensor.get("data")
        if not isinstance(data, list):
            raise BadRequest(f"{what}: 'data' must be a list")
        return InputTensor(what, datatype, shape, data=data)
    if binary is None:
        raise BadRequest(f"{what}: 'binary_data_size' needs the {HEADER_LENGTH} header")
    if type(size) is not int or size < 0:
        raise BadRequest(f"{what}: 'binary_data_size' must be a whole number of bytes")
    if "data" in tensor:
        raise BadRequest(f"{what}: give 'data' or 'binary_data_size', not both")
    if size != len(binary):
        raise BadRequest(
            f"{what}: 'binary_data_size' is {size}, but {len(binary)} bytes follow the JSON header"
        )
    return InputTensor(what, datatype, shape, raw=binary)
