"""The JSON API under `/models/api/`: what the pages show, and the two actions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from modelfleet.errors import NotFound
from modelfleet.registry.store import lineage
from modelfleet.ui import service
from modelfleet.ui.access import Access, AccessDependency, require_read, require_same_origin
from modelfleet.ui.airflow_runs import LatestRuns
from modelfleet.ui.dependencies import links, session


class RollbackBody(BaseModel):
    """`{"to": "v1.0.0", "reason": "scratches missed"}`; without `to`, the version the
    current production replaced."""

    to: str | None = None
    reason: str = Field(description="why; recorded in the alias history")


class PinBody(BaseModel):
    """`{"application": "line1-hmi", "pin": "v1.1.0", "reason": "..."}`; `pin` is a
    version or an alias (production, candidate)."""

    application: str
    pin: str
    reason: str


def router(access: AccessDependency, dag_runs: LatestRuns) -> APIRouter:
    api = APIRouter()
    User = Depends(access)
    Db = Depends(session)

    @api.get("/fleet")
    def fleet(request: Request, user: Access = User, db: Session = Db) -> Any:
        return jsonable_encoder(service.fleet(db, user, dag_runs, links(request)))

    @api.get("/workflows/{workflow}")
    def workflow(request: Request, workflow: str, user: Access = User, db: Session = Db) -> Any:
        found = service.workflow(db, user, workflow, links(request))
        found.pop("selected")  # a page's choice, not part of the resource
        return jsonable_encoder(found)

    @api.get("/lineage/{ref}")
    def lineage_of(request: Request, ref: str, user: Access = User, db: Session = Db) -> Any:
        found = service.lineage_of(db, user, ref, links(request))
        return jsonable_encoder({**found, "graph": found["graph"].as_dict()})

    @api.get("/dag-runs/{dag_id}/{run_id}")
    def version_of_run(dag_id: str, run_id: str, user: Access = User, db: Session = Db) -> Any:
        found = lineage.version_of_airflow_run(db, dag_id, run_id)
        if found is None:
            raise NotFound(f"Airflow run {dag_id} / {run_id} registered no model version")
        require_read(user, found["workflow"])
        return found

    @api.post("/workflows/{workflow}/rollback", dependencies=[Depends(require_same_origin)])
    def rollback(workflow: str, body: RollbackBody, user: Access = User) -> Any:
        return service.rollback(user, workflow, body.to, body.reason)

    @api.post("/workflows/{workflow}/pin", dependencies=[Depends(require_same_origin)])
    def pin(workflow: str, body: PinBody, user: Access = User) -> Any:
        return service.pin(user, workflow, body.application, body.pin, body.reason)

    return api
