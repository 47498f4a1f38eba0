"""HTML pages: the fleet, a workflow, a lineage; the per-DAG and per-run links; the
forms behind rollback and pin; plots and Data Docs."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from modelfleet.errors import NotFound
from modelfleet.naming import RETRAIN_DAG_PREFIX, workflow_of_dag
from modelfleet.registry.store import lineage, versions
from modelfleet.settings import get_settings
from modelfleet.ui import monitoring, service
from modelfleet.ui.access import (
    Access,
    AccessDependency,
    require_read,
    require_same_origin,
)
from modelfleet.ui.airflow_runs import LatestRuns
from modelfleet.ui.artifacts import PLOTS, data_docs_file, file_at_tag
from modelfleet.ui.dependencies import links, session
from modelfleet.ui.graph import graph_svg, trend_svg
from modelfleet.ui.labels import label_form


def _page(request: Request, template: str, user: Access, **context: Any) -> Response:
    return request.app.state.templates.TemplateResponse(
        request, template, {"user": user.user, "links": links(request), **context}
    )


def router(access: AccessDependency, dag_runs: LatestRuns) -> APIRouter:
    pages = APIRouter(include_in_schema=False)
    User = Depends(access)
    Db = Depends(session)

    @pages.get("/")
    def fleet(request: Request, user: Access = User, db: Session = Db) -> Response:
        rows = service.fleet(db, user, dag_runs, links(request))
        return _page(request, "fleet.html", user, title="Models", rows=rows)

    @pages.get("/workflows/{workflow}")
    def workflow(
        request: Request,
        workflow: str,
        version: str | None = None,
        done: str | None = None,
        user: Access = User,
        db: Session = Db,
    ) -> Response:
        found = service.workflow(db, user, workflow, links(request), selected=version)
        chart = trend_svg(found["trend"], list(service.TREND_METRICS))
        monitor = monitoring.panel_of(db, workflow)  # after service.workflow's access check
        return _page(
            request,
            "workflow.html",
            user,
            title=workflow,
            wf=found,
            chart=chart,
            done=done,
            monitor=monitor,
        )

    @pages.get("/lineage/{ref}")
    def lineage_page(
        request: Request,
        ref: str,
        done: str | None = None,
        user: Access = User,
        db: Session = Db,
    ) -> Response:
        found = service.lineage_of(db, user, ref, links(request))
        return _page(
            request,
            "lineage.html",
            user,
            title=f"lineage of {ref}",
            found=found,
            svg=graph_svg(found["graph"]),
            done=done,
            **label_form(user, found["chain"]),  # the form that labels the image
        )

    @pages.get("/dag/{dag_id}")
    def dag_link(request: Request, dag_id: str, user: Access = User) -> Response:
        """The tab on a DAG's page: its workflow's page."""
        workflow = workflow_of_dag(dag_id)
        if workflow is None:
            raise NotFound(f"{dag_id} is not a modelfleet DAG ({RETRAIN_DAG_PREFIX}<workflow>)")
        require_read(user, workflow)
        return RedirectResponse(links(request).workflow(workflow), status_code=303)

    @pages.get("/dag-run/{dag_id}/{run_id}")
    def dag_run_link(
        request: Request, dag_id: str, run_id: str, user: Access = User, db: Session = Db
    ) -> Response:
        """The tab on a DAG run's page: the lineage of the version the run produced."""
        workflow = workflow_of_dag(dag_id)
        if workflow is not None:
            require_read(user, workflow)
        found = lineage.version_of_airflow_run(db, dag_id, run_id)
        if found is None:
            return _page(
                request,
                "message.html",
                user,
                title="No model version",
                message=f"The run {run_id} of {dag_id} registered no model version "
                "(it was rejected by the gate, failed, skipped, or is still running).",
                workflow=workflow,
            )
        require_read(user, found["workflow"])
        return RedirectResponse(links(request).lineage(found["tag"]), status_code=303)

    @pages.post("/workflows/{workflow}/rollback", dependencies=[Depends(require_same_origin)])
    def rollback(
        request: Request,
        workflow: str,
        reason: str = Form(""),
        to: str = Form(""),
        user: Access = User,
    ) -> Response:
        done = service.rollback(user, workflow, to or None, reason)
        message = f"production rolled back from {done['from']} to {done['to']}"
        return _back(request, workflow, message)

    @pages.post("/workflows/{workflow}/pin", dependencies=[Depends(require_same_origin)])
    def pin(
        request: Request,
        workflow: str,
        application: str = Form(...),
        pin: str = Form(...),
        reason: str = Form(""),
        user: Access = User,
    ) -> Response:
        done = service.pin(user, workflow, application, pin, reason)
        return _back(request, workflow, f"{done['application']} now pinned to {done['pin']}")

    @pages.get("/plots/{workflow}/{version}/{name}")
    def plot(
        workflow: str, version: str, name: str, user: Access = User, db: Session = Db
    ) -> Response:
        require_read(user, workflow)
        kind = name.removesuffix(".png")
        mv = versions.get_version(db, workflow, version)
        relpath = (mv.artifacts or {}).get(kind)
        if kind not in PLOTS or relpath is None:
            raise NotFound(f"{mv.tag} has no plot {name!r}")
        settings = get_settings()
        data = file_at_tag(settings.repo, mv.tag, relpath, settings.dvc_remote)
        # a tag's files never change
        return Response(
            data, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"}
        )

    @pages.get("/data-docs/{path:path}")
    def data_docs(path: str, user: Access = User) -> Response:
        """The Great Expectations site of each workflow (`data-docs/<wf>/...`)."""
        require_read(user, path.split("/", 1)[0])
        return FileResponse(data_docs_file(get_settings().data_docs, path))

    return pages


def _back(request: Request, workflow: str, message: str) -> Response:
    url = f"{links(request).workflow(workflow)}?done={quote(message)}"
    return RedirectResponse(url, status_code=303)
