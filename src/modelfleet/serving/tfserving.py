"""TF Serving REST API routes (thin: resolve, decode, infer, encode)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import JSONResponse

from modelfleet.errors import BadRequest
from modelfleet.serving.pool import LoadedModel
from modelfleet.serving.service import PredictionService

VERSION_HEADER = "X-Model-Version"


def _answer(model: LoadedModel, body: dict[str, Any]) -> JSONResponse:
    """Every response names the version that answered, in the body and a header."""
    body = {**body, "model_version": model.version}
    return JSONResponse(body, headers={VERSION_HEADER: model.version})


def router(service: PredictionService) -> APIRouter:
    api = APIRouter(prefix="/v1/models", tags=["TF Serving REST API"])

    def status(model: LoadedModel) -> JSONResponse:
        return _answer(
            model,
            {
                "model_version_status": [
                    {
                        "version": str(model.version_int),
                        "state": "AVAILABLE",
                        "status": {"error_code": "OK", "error_message": ""},
                    }
                ]
            },
        )

    @api.get("/{workflow}")
    def model_status(workflow: str) -> JSONResponse:
        """Status of the version the production alias points at."""
        return status(service.resolve(workflow))

    @api.get("/{workflow}/versions/{version}")
    def version_status(workflow: str, version: int) -> JSONResponse:
        return status(service.resolve(workflow, version))

    async def predict(request: Request, model: LoadedModel) -> JSONResponse:
        body = await _json_body(request)
        if "instances" not in body:
            raise BadRequest("request body needs 'instances' (row format)")
        probs = await service.infer_instances(model, body["instances"])
        return _answer(model, {"predictions": probs.round(6).tolist()})

    @api.post("/{workflow}:predict")
    async def predict_production(workflow: str, request: Request) -> JSONResponse:
        """TF Serving `:predict` with `{"instances": [...]}`; instances are tensors
        of the model's input shape or `{"b64": <encoded image>}`."""
        return await predict(request, service.resolve(workflow))

    @api.post("/{workflow}/versions/{version}:predict")
    async def predict_version(workflow: str, version: int, request: Request) -> JSONResponse:
        return await predict(request, service.resolve(workflow, version))

    @api.post("/{workflow}:classify")
    async def classify_upload(workflow: str, file: UploadFile, top_k: int = 3) -> JSONResponse:
        """Upload an image (multipart field `file`); get the top-k labels."""
        model = service.resolve(workflow)
        data = await file.read()
        return _answer(model, await service.classify_image(model, data, top_k))

    return api


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body
