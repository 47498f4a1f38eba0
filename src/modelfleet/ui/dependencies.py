"""What the UI's routes depend on, apart from the app that mounts them: the links of a
request and a database session. (The app imports the routers; the routers import this.)"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from modelfleet.naming import MODELS_UI_MOUNT
from modelfleet.registry import db
from modelfleet.settings import get_settings
from modelfleet.ui.links import Links


def links(request: Request) -> Links:
    """URLs relative to where Airflow mounted this app (`root_path` ends in MODELS_UI_MOUNT)."""
    app_root = request.scope.get("root_path", "").rstrip("/")
    airflow = app_root.removesuffix(MODELS_UI_MOUNT) if app_root.endswith(MODELS_UI_MOUNT) else ""
    return Links(app=app_root, airflow=airflow, data_docs_root=get_settings().data_docs)


def session() -> Iterator[Session]:
    with Session(db.engine()) as opened:
        yield opened
