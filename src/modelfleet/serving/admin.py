"""Management routes (admin key): promote, roll back, pin an application to a version.

They go through the same code as the CLI (`releases`, the applications store), so
the alias history records the admin application as the actor, and the NOTIFY
they send makes every endpoint replica swap. They write Postgres only: the endpoint
never writes the model repository, and the platform's stage mirror (run by the warm
runner) assigns the GTO stage within seconds, its tag naming the admin and the reason.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from modelfleet import releases
from modelfleet.config import load_fleet
from modelfleet.errors import BadRequest, ModelNotFound
from modelfleet.naming import ALIAS_PINS
from modelfleet.registry import db
from modelfleet.registry.store import applications
from modelfleet.serving.auth import Authenticator
from modelfleet.serving.service import shown
from modelfleet.serving.wire import json_body_doc, json_object, json_response
from modelfleet.settings import Settings

MAX_REASON_CHARS = 1000
_REASON = {"reason": {"type": "string", "minLength": 1, "maxLength": MAX_REASON_CHARS}}
_VERSION_PATTERN = r"^v[0-9]{1,6}\.[0-9]{1,3}\.[0-9]{1,3}$"
_VERSION_TEXT = re.compile(_VERSION_PATTERN)
_VERSION = {"type": "string", "pattern": _VERSION_PATTERN}
_PIN = {"type": "string", "anyOf": [{"enum": list(ALIAS_PINS)}, _VERSION]}


def _body_doc(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    """The OpenAPI request body of a management route: `properties` and the reason every
    one of them requires (the `required` ones first)."""
    return json_body_doc(
        {
            "type": "object",
            "properties": {**properties, **_REASON},
            "required": [*required, "reason"],
        }
    )


def _reason(body: dict[str, Any]) -> str:
    value = body.get("reason")
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise BadRequest("'reason' must be a non-empty string without NUL characters")
    if len(value) > MAX_REASON_CHARS:
        raise BadRequest(
            f"'reason' must be at most {MAX_REASON_CHARS} characters, got {len(value)}"
        )
    return value.strip()


def _version(body: dict[str, Any], key: str) -> str:
    """A version from the body, exactly as documented (vX.Y.Z, minor and patch below
    1000 as TF Serving's integer needs them), checked before anything parses numbers."""
    value = body.get(key)
    if not isinstance(value, str) or not _VERSION_TEXT.fullmatch(value):
        text = shown(value) if isinstance(value, str) else type(value).__name__
        raise BadRequest(f"'{key}' must be a version vX.Y.Z (X up to 6 digits), got {text}")
    return value


def _optional_version(body: dict[str, Any], key: str) -> str | None:
    return _version(body, key) if key in body else None


def _pin(body: dict[str, Any]) -> str:
    value = body.get("pin")
    return value if value in ALIAS_PINS else _version(body, "pin")


def router(settings: Settings, database_url: str, auth: Authenticator) -> APIRouter:
    api = APIRouter(prefix="/admin", tags=["management (admin key)"])

    async def admin(request: Request) -> tuple[str, dict[str, Any]]:
        principal = await auth.of(request)
        principal.require_admin()
        return principal.name, await json_object(request)

    def declared(workflow: str) -> None:
        """Releases touch paths named after the workflow: only declared names get there."""
        workflows = load_fleet(settings.config_file).workflows
        if workflow not in workflows:
            raise ModelNotFound(f"no workflow named {shown(workflow)} is declared")

    @api.post(
        "/models/{workflow:segment}/promote",
        summary="Make a version production",
        openapi_extra=_body_doc({"version": _VERSION}, "version"),
    )
    async def promote(workflow: str, request: Request) -> Response:
        actor, body = await admin(request)
        declared(workflow)
        version, reason = _version(body, "version"), _reason(body)
        previous = await run_in_threadpool(
            releases.set_production,
            settings,
            workflow,
            version,
            actor=actor,
            reason=reason,
            mirror=False,
        )
        return json_response({"workflow": workflow, "from": previous, "to": version})

    @api.post(
        "/models/{workflow:segment}/rollback",
        summary="Move production back (to the version it replaced, or `to`)",
        openapi_extra=_body_doc({"to": _VERSION}),
    )
    async def rollback(workflow: str, request: Request) -> Response:
        actor, body = await admin(request)
        declared(workflow)
        to, reason = _optional_version(body, "to"), _reason(body)
        old, new = await run_in_threadpool(
            releases.rollback,
            settings,
            workflow,
            to=to,
            actor=actor,
            reason=reason or "",
            mirror=False,
        )
        return json_response({"workflow": workflow, "from": old, "to": new})

    @api.put(
        "/applications/{application:segment}/grants/{workflow:segment}",
        summary="Grant a workflow to an application, pinned to an alias or version",
        openapi_extra=_body_doc({"pin": _PIN}, "pin"),
    )
    async def pin(application: str, workflow: str, request: Request) -> Response:
        actor, body = await admin(request)
        pin_to, reason = _pin(body), _reason(body)

        def write() -> None:
            with Session(db.engine(database_url)) as session, session.begin():
                applications.set_grant(
                    session, application, workflow, pin_to, actor=actor, reason=reason or ""
                )

        await run_in_threadpool(write)
        return json_response({"application": application, "workflow": workflow, "pin": pin_to})

    @api.get("/applications", summary="Applications and their grants (never keys)")
    async def list_apps(request: Request) -> Response:
        principal = await auth.of(request)
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
