"""TF Serving REST API: status, metadata, `:predict` and `:classify`, each for the
application's pin, an explicit `/versions/{n}` or a `/labels/{alias}`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from modelfleet.errors import BadRequest
from modelfleet.serving.auth import Authenticator
from modelfleet.serving.pool import LoadedModel
from modelfleet.serving.service import PredictionService, b64_bytes, shown
from modelfleet.serving.wire import answer, json_body_doc, json_object

Handler = Callable[[Request, LoadedModel], Awaitable[Response]]

_TENSOR_OR_IMAGE = {
    "oneOf": [
        {"type": "array", "items": {}},
        {"type": "object", "properties": {"b64": {"type": "string"}}, "required": ["b64"]},
    ]
}
PREDICT_DOC = json_body_doc(
    {
        "type": "object",
        "properties": {
            "signature_name": {"type": "string"},
            "instances": {"type": "array", "items": _TENSOR_OR_IMAGE},
            "inputs": {},
        },
    },
    {"instances": [{"b64": "<base64 PNG or JPEG>"}]},
)
CLASSIFY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"examples": {"type": "array", "items": {"type": "object"}}},
                    "required": ["examples"],
                }
            },
        },
    },
    "parameters": [
        {
            "name": "top_k",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 999_999},
        }
    ],
}


def router(service: PredictionService, auth: Authenticator) -> APIRouter:
    api = APIRouter(prefix="/v1/models", tags=["TF Serving REST API"])

    def routes(suffix: str, method: str, handler: Handler, summary: str, **extra: Any) -> None:
        """One handler under the three ways TF Serving names a model."""

        async def pinned(workflow: str, request: Request) -> Response:
            principal = await auth.of(request)
            return await handler(request, service.resolve(principal, workflow))

        async def by_version(workflow: str, version: str, request: Request) -> Response:
            principal = await auth.of(request)
            return await handler(request, service.resolve(principal, workflow, version=version))

        async def by_label(workflow: str, label: str, request: Request) -> Response:
            principal = await auth.of(request)
            return await handler(request, service.resolve(principal, workflow, label=label))

        name = handler.__name__
        for path, endpoint, kind in (
            ("/{workflow:segment}", pinned, "pin"),
            ("/{workflow:segment}/versions/{version:segment}", by_version, "version"),
            ("/{workflow:segment}/labels/{label:segment}", by_label, "label"),
        ):
            api.add_api_route(
                path + suffix,
                endpoint,
                methods=[method],
                name=f"{name}_by_{kind}",
                summary=f"{summary} ({kind})",
                openapi_extra=extra or None,
            )

    async def status(request: Request, model: LoadedModel) -> Response:
        # As TF Serving: the model's URL lists every loaded version; a URL that names a
        # version or a label, that one.
        named_one = not request.scope["route"].name.endswith("_by_pin")
        listed = [model] if named_one else service.pool.models(model.workflow)
        return answer(
            request,
            model,
            {
                "model_version_status": [
                    {
                        "version": str(m.version_int),
                        "state": "AVAILABLE",
                        "status": {"error_code": "OK", "error_message": ""},
                    }
                    for m in listed
                ]
            },
        )

    async def metadata(request: Request, model: LoadedModel) -> Response:
        dims = [{"size": "-1", "name": ""}] + [
            {"size": str(d), "name": ""} for d in model.input_shape
        ]
        signature = {
            "inputs": {
                model.input_name: {
                    "dtype": "DT_FLOAT",
                    "tensor_shape": {"dim": dims, "unknown_rank": False},
                    "name": f"serving_default_{model.input_name}:0",
                }
            },
            "outputs": {
                model.output_name: {
                    "dtype": "DT_FLOAT",
                    "tensor_shape": {
                        "dim": [{"size": "-1", "name": ""}, {"size": str(len(model.classes))}],
                        "unknown_rank": False,
                    },
                    "name": "StatefulPartitionedCall:0",
                }
            },
            "method_name": "tensorflow/serving/predict",
        }
        return answer(
            request,
            model,
            {
                "model_spec": {
                    "name": model.workflow,
                    "signature_name": "",
                    "version": str(model.version_int),
                },
                "metadata": {"signature_def": {"signature_def": {"serving_default": signature}}},
                # modelfleet's additions: what the outputs mean, and how images are taken
                "classes": model.classes,
                "labels": service.pool.labels(model.workflow),
                "input": {
                    "shape": list(model.input_shape),
                    "scale": "[0, 1] floats; or {'b64': image} of any size and mode",
                },
            },
        )

    async def predict(request: Request, model: LoadedModel) -> Response:
        body = await json_object(request)
        if ("instances" in body) == ("inputs" in body):
            raise BadRequest(
                "request body needs exactly one of 'instances' (row format) or 'inputs'"
            )
        # The parsed rows are dropped before waiting for the batch: hundreds of nested
        # lists per instance, alive while waiting, make the garbage collector run often.
        if "instances" in body:
            rows = body.pop("instances")
            batch = await service.tensor_rows(model, rows, "instances")
            del rows, body
            probs = await service.infer(model, batch)
            return answer(request, model, {"predictions": probs.round(6)})
        inputs = body.pop("inputs")
        del body
        if isinstance(inputs, dict):
            if set(inputs) != {model.input_name}:
                raise BadRequest(
                    f"'inputs' as an object needs exactly the key {model.input_name!r}, "
                    f"got {sorted(map(shown, inputs))[:10]}"
                )
            inputs = inputs[model.input_name]
        batch = await service.tensor_rows(model, inputs, "inputs")
        del inputs
        probs = await service.infer(model, batch)
        return answer(request, model, {"outputs": probs.round(6)})

    async def classify(request: Request, model: LoadedModel) -> Response:
        top_k = _top_k(request)
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            async with request.form(max_files=1, max_fields=4) as form:
                upload = form.get("file")
                if not isinstance(upload, UploadFile):
                    raise BadRequest("multipart field 'file' with the image is missing")
                data = await upload.read()
            batch = (await service.image(model, data, "file"))[None]
            ranked = service.ranked(model, await service.infer(model, batch), top_k or 3)[0]
            best = ranked[0]
            return answer(
                request,
                model,
                {
                    "label": best[0],
                    "score": best[1],
                    "top_k": [{"label": label, "score": score} for label, score in ranked],
                },
            )
        body = await json_object(request)
        examples = body.get("examples")
        if not isinstance(examples, list):
            raise BadRequest(
                "send an image as multipart field 'file', or JSON {'examples': [...]} where each "
                "example is {'image': {'b64': ...}} or {'" + model.input_name + "': <tensor>}"
            )
        rows = [_example_row(model, e, i) for i, e in enumerate(examples)]
        probs = await service.infer(model, await service.tensor_rows(model, rows, "examples"))
        return answer(request, model, {"results": service.ranked(model, probs, top_k)})

    routes("", "GET", status, "Model version status")
    routes("/metadata", "GET", metadata, "Model metadata: signature, input shape, classes")
    routes(
        ":predict", "POST", predict, "Predict: instances (rows) or inputs (columns)", **PREDICT_DOC
    )
    routes(":classify", "POST", classify, "Classify an uploaded image or examples", **CLASSIFY_DOC)
    return api


def _top_k(request: Request) -> int | None:
    raw = request.query_params.get("top_k")
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or int(raw) < 1:
        raise BadRequest(f"top_k must be an integer from 1 to 999999, got {shown(raw)}")
    return int(raw)


def _example_row(model: LoadedModel, example: Any, index: int) -> Any:
    """A classify example: {"image": {"b64": ...}} or {<input name>: tensor}."""
    what = f"examples[{index}]"
    if not isinstance(example, dict) or len(example) != 1:
        raise BadRequest(f"{what}: expected one feature, 'image' or {model.input_name!r}")
    ((key, value),) = example.items()
    if isinstance(value, dict):  # an encoded image, under any feature name
        if set(value) != {"b64"}:
            raise BadRequest(f"{what}: an image feature must be {{'b64': <base64 image>}}")
        b64_bytes(value["b64"], what)  # fail early with the example's index
        return value
    if key == model.input_name:
        return value
    raise BadRequest(f"{what}: unknown feature {shown(key)}; use 'image' or {model.input_name!r}")
