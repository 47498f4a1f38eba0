"""`POST /v1/feedback/{wf}`: labels from the floor, sent by an application.

Not under `/v1/models/{wf}/labels/...`: that is TF Serving's namespace for version
labels. Labelling is a grant of its own (`modelfleet apps grant --label`), off by
default; the label goes through the same store function as `modelfleet label`, so it
must be one of the workflow's classes (400 naming them) and name an image the
workflow stored or classified (404). The actor recorded is `api:<application>`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from modelfleet.config import load_fleet
from modelfleet.errors import BadRequest, ModelNotFound
from modelfleet.registry import db
from modelfleet.registry.store import labels
from modelfleet.serving.auth import Authenticator
from modelfleet.serving.service import shown
from modelfleet.serving.wire import json_body_doc, json_object, json_response
from modelfleet.settings import Settings

_BODY = {
    "type": "object",
    "properties": {
        "sha256": {"type": "string", "pattern": labels.SHA256.pattern},
        "label": {"type": "string", "minLength": 1, "maxLength": 128},
        "reason": {"type": "string", "maxLength": labels.MAX_REASON_CHARS},
    },
    "required": ["sha256", "label"],
}
_EXAMPLE = {"sha256": "0" * 64, "label": "scratch", "reason": "seen at the station"}


def _text(body: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = body.get(key, None if required else "")
    if not isinstance(value, str) or "\x00" in value:
        raise BadRequest(f"'{key}' must be a string without NUL characters")
    return value


def router(settings: Settings, database_url: str, auth: Authenticator) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["feedback (label grant)"])

    @api.post(
        "/feedback/{workflow:segment}",
        summary="Label a stored image (needs the application's label grant)",
        openapi_extra=json_body_doc(_BODY, _EXAMPLE),
    )
    async def feedback(workflow: str, request: Request) -> Response:
        principal = await auth.of(request)
        principal.require_label(workflow)  # first: says nothing of which workflows exist
        declared = load_fleet(settings.config_file).workflows.get(workflow)
        if declared is None:
            raise ModelNotFound(f"no workflow named {shown(workflow)} is declared")
        body = await json_object(request)
        sha256, label = _text(body, "sha256"), _text(body, "label")
        reason = _text(body, "reason", required=False)
        labels.check_sha256(sha256)
        labels.check_label(label, declared.classes, workflow)

        def write() -> labels.Label:
            with Session(db.engine(database_url)) as session, session.begin():
                return labels.add_label(
                    session,
                    workflow,
                    sha256,
                    label,
                    classes=declared.classes,
                    actor=f"api:{principal.name}",
                    reason=reason,
                )

        given = await run_in_threadpool(write)
        return json_response(
            {
                "workflow": workflow,
                "sha256": given.image_sha256,
                "label": given.label,
                "actor": given.actor,
                "at": given.at.isoformat(),
            }
        )

    return api
