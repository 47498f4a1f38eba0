"""What every route shares: path segments, reading JSON bodies, answering with the
model version."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response
from starlette.convertors import Convertor, register_url_convertor

from modelfleet.errors import BadRequest
from modelfleet.serving.metrics import answered_by
from modelfleet.serving.pool import LoadedModel

VERSION_HEADER = "X-Model-Version"


class Segment(Convertor[str]):
    """One path segment without ':' (routes say `{workflow:segment}`), so that a model
    name never swallows TF Serving's `:predict` suffix: a wrong method then gets 405
    with the right Allow, not the Allow of the model's status route."""

    regex = "[^/:]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("segment", Segment())


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object (orjson: one parse, no pydantic pass)."""
    return json_of(await request.body())


def json_of(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body


def json_response(
    body: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


def answer(request: Request, model: LoadedModel, body: dict[str, Any]) -> Response:
    """Every answer names the version that gave it: a body field and a header."""
    answered_by(request.scope, model.workflow, model.version)
    return json_response(
        {**body, "model_version": model.version}, headers={VERSION_HEADER: model.version}
    )


def binary_answer(
    request: Request, model: LoadedModel, body: dict[str, Any], raws: list[bytes]
) -> Response:
    """An answer in V2's binary tensor extension: the JSON, then the outputs' bytes in
    order; `Inference-Header-Content-Length` says where the JSON ends."""
    answered_by(request.scope, model.workflow, model.version)
    header = orjson.dumps(
        {**body, "model_version": model.version}, option=orjson.OPT_SERIALIZE_NUMPY
    )
    return Response(
        b"".join([header, *raws]),
        media_type="application/octet-stream",
        headers={
            VERSION_HEADER: model.version,
            "Inference-Header-Content-Length": str(len(header)),
        },
    )


def json_body_doc(schema: dict[str, Any], example: dict[str, Any] | None = None) -> dict[str, Any]:
    """OpenAPI for a body the route parses itself (documented, and fuzzed by schemathesis)."""
    content: dict[str, Any] = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"requestBody": {"required": True, "content": {"application/json": content}}}
