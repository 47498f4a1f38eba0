"""The endpoint's OpenAPI document: every status an operation can answer, with the
error body and Retry-After where it applies, and which operations need a key; and the
pages that show it, `/docs` (Swagger UI) and `/redoc`, with their scripts and styles
served from the package (`modelfleet.webassets`), never a CDN: a plant network often
has no internet.

FastAPI documents a 422 that this endpoint never sends (invalid requests get 400, see
`app.py`) and none of the statuses that routes raise themselves, so both are fixed up
here, once, for every operation; schemathesis then holds the endpoint to the document.
"""

from __future__ import annotations

import functools
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.exceptions import HTTPException

from modelfleet.webassets import asset, url_path

# Operations that need no key: health, metadata of the server, metrics.
PUBLIC_PATHS = frozenset({"/healthz", "/metrics", "/v2", "/v2/health/live", "/v2/health/ready"})
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]

_ERROR = {"$ref": "#/components/schemas/Error"}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}
# status -> (description, which operations answer it, Retry-After)
STATUSES: dict[int, tuple[str, str, bool]] = {
    400: ("Bad input; the error names what was wrong and what was expected", "all", False),
    401: ("No API key, or an unknown or revoked one", "keyed", False),
    403: ("The application holds no grant for the workflow, or is no admin", "keyed", False),
    404: ("No such model, version or label, or nothing deployed for the workflow", "keyed", False),
    408: ("The request's headers or body did not arrive in time", "all", False),
    409: (
        "The registry refuses the change (not exported, already production, ...)",
        "admin",
        False,
    ),
    413: ("The body, an image or the number of instances is over its limit", "all", False),
    429: ("Too many failed API key attempts from this address", "keyed", True),
    431: ("The request line and headers are over 64 KiB", "all", False),
    503: ("Busy or not ready (connections, key checks, image decoding, loading)", "all", True),
}


def install(app: FastAPI) -> None:
    """Make `app.openapi()` return the completed document (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
    install_pages(app)


# The files the two pages load, each under its npm name and version (so a browser may
# keep it: a new version is a new URL).
ASSETS_PATH = "/docs/assets"
_SWAGGER_JS = ("swagger-ui-dist", "swagger-ui-bundle.js")
_SWAGGER_CSS = ("swagger-ui-dist", "swagger-ui.css")
_FAVICON = ("swagger-ui-dist", "favicon-32x32.png")
_REDOC_JS = ("redoc", "bundles/redoc.standalone.js")
_SERVED = {url_path(*a): a for a in (_SWAGGER_JS, _SWAGGER_CSS, _FAVICON, _REDOC_JS)}
# ReDoc's menu footer shows Redocly's logo from its CDN, and no option turns it off: the
# served bundle shows a blank pixel instead (the vendored file stays as npm has it).
_REDOCLY_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
_BLANK = b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E"
_CACHE = {"Cache-Control": "public, max-age=31536000"}


@functools.cache
def _redoc_bundle() -> bytes:
    return asset(*_REDOC_JS).read_bytes().replace(_REDOCLY_LOGO, _BLANK)


def install_pages(app: FastAPI) -> None:
    """`/docs`, `/redoc` and their assets (the app is built with docs_url=None and
    redoc_url=None: FastAPI's own pages load from jsdelivr and Google Fonts)."""

    def page(request: Request, title: str, **assets: tuple[str, str]) -> dict[str, Any]:
        """The arguments FastAPI's page builders share: the document's URL, the title,
        and each named asset's URL, all under the app's root path."""
        root = request.scope.get("root_path", "").rstrip("/")
        urls = {name: f"{root}{ASSETS_PATH}/{url_path(*a)}" for name, a in assets.items()}
        return {
            "openapi_url": f"{root}{app.openapi_url}",
            "title": f"{app.title} - {title}",
            **urls,
        }

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            **page(
                request,
                "Swagger UI",
                swagger_js_url=_SWAGGER_JS,
                swagger_css_url=_SWAGGER_CSS,
                swagger_favicon_url=_FAVICON,
            )
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            **page(request, "ReDoc", redoc_js_url=_REDOC_JS, redoc_favicon_url=_FAVICON),
            with_google_fonts=False,
        )

    @app.get(ASSETS_PATH + "/{path:path}", include_in_schema=False)
    def docs_asset(path: str) -> Response:
        if path not in _SERVED:
            raise HTTPException(404, f"no documentation asset {path!r}")
        if _SERVED[path] == _REDOC_JS:
            return Response(_redoc_bundle(), media_type="text/javascript", headers=_CACHE)
        return FileResponse(asset(*_SERVED[path]), headers=_CACHE)


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    """Add error responses and security to every operation of a FastAPI document."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Error"] = {
        "type": "object",
        "properties": {"error": {"type": "string", "description": "What was wrong"}},
        "required": ["error"],
        "example": {"error": "instances[0]: shape [3] does not match the model input [28, 28, 1]"},
    }
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "Authorization: Bearer <API key>",
        },
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    for path, operations in schema.get("paths", {}).items():
        keyed = path not in PUBLIC_PATHS
        scopes = {"all", "keyed", "admin"} if path.startswith("/admin/") else {"all", "keyed"}
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status, (description, scope, retry) in STATUSES.items():
                if scope not in scopes or (scope == "keyed" and not keyed):
                    continue
                response: dict[str, Any] = {
                    "description": description,
                    "content": {"application/json": {"schema": _ERROR}},
                }
                if retry:
                    response["headers"] = _RETRY_AFTER
                responses.setdefault(str(status), response)
            operation["security"] = SECURITY if keyed else []
    return schema
