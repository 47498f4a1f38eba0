"""Management routes (admin key): promote, roll back, pin an application to a version.

They go through the same code as the CLI (`releases`, the applications store), so
the alias history records the admin application as the actor, and the NOTIFY
they send makes every endpoint replica swap.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from modelfleet import db, releases
from modelfleet.errors import BadRequest
from modelfleet.registry.store import applications
from modelfleet.serving.auth import Authenticator
from modelfleet.serving.wire import json_body_doc, json_object, json_response
from modelfleet.settings import Settings

_REASON = {"reason": {"type": "string", "minLength": 1}}


def _text(body: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"'{key}' must be a non-empty string")
    return value.strip()


def router(settings: Settings, database_url: str, auth: Authenticator) -> APIRouter:
    api = APIRouter(prefix="/admin", tags=["management (admin key)"])

    async def admin(request: Request) -> tuple[str, dict[str, Any]]:
        principal = await auth.principal(request.headers)
        principal.require_admin()
        return principal.name, await json_object(request)

    @api.post(
        "/models/{workflow}/promote",
        summary="Make a version production",
        openapi_extra=json_body_doc(
            {
                "type": "object",
                "properties": {"version": {"type": "string"}, **_REASON},
                "required": ["version", "reason"],
            }
        ),
    )
    async def promote(workflow: str, request: Request) -> Response:
        actor, body = await admin(request)
        version, reason = _text(body, "version"), _text(body, "reason")
        previous = await run_in_threadpool(
            releases.set_production, settings, workflow, version, actor=actor, reason=reason
        )
        return json_response({"workflow": workflow, "from": previous, "to": version})

    @api.post(
        "/models/{workflow}/rollback",
        summary="Move production back (to the version it replaced, or `to`)",
        openapi_extra=json_body_doc(
            {
                "type": "object",
                "properties": {"to": {"type": "string"}, **_REASON},
                "required": ["reason"],
            }
        ),
    )
    async def rollback(workflow: str, request: Request) -> Response:
        actor, body = await admin(request)
        to, reason = _text(body, "to", required=False), _text(body, "reason")
        old, new = await run_in_threadpool(
            releases.rollback, settings, workflow, to=to, actor=actor, reason=reason or ""
        )
        return json_response({"workflow": workflow, "from": old, "to": new})

    @api.put(
        "/applications/{application}/grants/{workflow}",
        summary="Grant a workflow to an application, pinned to an alias or version",
        openapi_extra=json_body_doc(
            {
                "type": "object",
                "properties": {"pin": {"type": "string"}, **_REASON},
                "required": ["pin", "reason"],
            }
        ),
    )
    async def pin(application: str, workflow: str, request: Request) -> Response:
        actor, body = await admin(request)
        pin_to, reason = _text(body, "pin"), _text(body, "reason")

        def write() -> None:
            with Session(db.engine(database_url)) as session, session.begin():
                applications.set_grant(
                    session, application, workflow, pin_to or "", actor=actor, reason=reason or ""
                )

        await run_in_threadpool(write)
        return json_response({"application": application, "workflow": workflow, "pin": pin_to})

    @api.get("/applications", summary="Applications and their grants (never keys)")
    async def list_apps(request: Request) -> Response:
        principal = await auth.principal(request.headers)
        principal.require_admin()

        def read() -> list[dict[str, Any]]:
            with Session(db.engine(database_url)) as session:
                return [
                    {
                        "name": a.name,
                        "admin": a.admin,
                        "grants": a.grants,
                        "has_key": a.has_key,
                        "revoked": a.revoked_at is not None,
                    }
                    for a in applications.list_applications(session)
                ]

        return json_response(await run_in_threadpool(read))

    return api
