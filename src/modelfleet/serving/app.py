"""The FastAPI application: wiring, error mapping, lifecycle."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from modelfleet import __version__
from modelfleet.errors import PayloadTooLarge, ServingError
from modelfleet.serving.alias_watcher import AliasWatcher
from modelfleet.serving.pool import ModelPool
from modelfleet.serving.service import PredictionService
from modelfleet.serving.tfserving import router

MAX_BODY_BYTES = 32 * 1024 * 1024


def create_app(pool: ModelPool, database_url: str, poll_s: float = 5.0) -> FastAPI:
    watcher = AliasWatcher(pool, database_url, poll_s=poll_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        watcher.start()
        yield
        watcher.stop()

    app = FastAPI(title="modelfleet prediction endpoint", version=__version__, lifespan=lifespan)
    app.include_router(router(PredictionService(pool)))

    @app.middleware("http")
    async def limit_body(request: Request, call_next):  # type: ignore[no-untyped-def]
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return _error(PayloadTooLarge(f"body of {length} bytes exceeds {MAX_BODY_BYTES}"))
        return await call_next(request)

    @app.exception_handler(ServingError)
    async def serving_error(_: Request, exc: ServingError) -> JSONResponse:
        return _error(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"error": problems}, status_code=400)

    @app.get("/healthz", tags=["operations"])
    def health() -> dict[str, object]:
        return {"ready": watcher.synced.is_set(), "loaded": pool.loaded()}

    return app


def _error(exc: ServingError) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=exc.status_code)


def serve(host: str, port: int) -> None:
    """Run the endpoint (blocking): `modelfleet serve`."""
    import uvicorn

    from modelfleet import db
    from modelfleet.config import load_fleet
    from modelfleet.settings import get_settings

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = get_settings()
    pool = ModelPool(settings.serving_root, set(load_fleet(settings.config_file).workflows))
    app = create_app(pool, db.database_url())
    uvicorn.run(app, host=host, port=port, log_level="info")
