"""The Models app Airflow mounts at `/models`: pages, the JSON API under `/api/`,
plots, Data Docs and static files. Every route depends on the signed-in Airflow user.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelfleet.errors import ModelfleetError, NotFound, http_status
from modelfleet.ui import api, labels, pages
from modelfleet.ui.access import AccessDependency, airflow_access
from modelfleet.ui.airflow_runs import LatestRuns, latest_runs
from modelfleet.ui.dependencies import links

HERE = Path(__file__).parent
STATIC = HERE / "static"


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _when(value: datetime | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value[:19].replace("T", " ")
    return f"{value:%Y-%m-%d %H:%M:%S}"


def templates() -> Jinja2Templates:
    found = Jinja2Templates(directory=HERE / "templates")
    found.env.filters.update(fmt=_fmt, when=_when)
    return found


def create_app(
    access: AccessDependency = airflow_access, dag_runs: LatestRuns = latest_runs
) -> FastAPI:
    """The app; `access` and `dag_runs` are seams (Airflow's by default)."""
    # The dependency on `access` is app-wide: no route answers an anonymous caller.
    # FastAPI's own /docs and /openapi.json would not carry it, so they are off.
    app = FastAPI(
        title="modelfleet models",
        dependencies=[Depends(access)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.templates = templates()
    app.include_router(api.router(access, dag_runs), prefix="/api")
    app.include_router(pages.router(access, dag_runs))
    app.include_router(labels.router(access))

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        path = STATIC / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise NotFound(f"no static file {name!r}")
        return FileResponse(path)

    @app.exception_handler(ModelfleetError)
    def domain_error(request: Request, exc: ModelfleetError) -> Response:
        # An error with no status of its own is the request's fault here: the UI's
        # actions have no server-side failures worth a 500.
        return _error(request, http_status(exc, unclassified=400), str(exc))

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail), exc.headers)

    return app


def _relative_path(request: Request) -> str:
    path, root = request.scope["path"], request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _error(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """JSON for the API, a small page for a person."""
    if _relative_path(request).startswith("/api/"):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    title = {401: "Not signed in", 403: "Not allowed", 404: "Not found"}.get(status, "Error")
    context = {"title": title, "message": message, "links": links(request)}
    return request.app.state.templates.TemplateResponse(
        request, "message.html", context, status_code=status, headers=headers
    )
