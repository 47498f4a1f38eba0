"""Labels from the floor in the Models UI: the form on an image's lineage page.

Labelling moves what the next month trains on, so it needs what rolling back needs:
permission to run the workflow's `retrain__<wf>` DAG (`require_release`). The form
posts same-origin only, as the rollback and pin forms do. The label goes through the
store function `modelfleet label` and `POST /v1/feedback/{wf}` use; the actor is
`airflow:<user>`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from modelfleet.config import load_fleet
from modelfleet.errors import NotFound
from modelfleet.registry import db
from modelfleet.registry.store import labels
from modelfleet.ui.access import Access, AccessDependency, require_release, require_same_origin
from modelfleet.ui.dependencies import links
from modelfleet.ui.service import actor


def label_form(access: Access, chain: dict[str, Any]) -> dict[str, Any]:
    """What the lineage page needs for the form: the classes, if the user may label."""
    if "prediction" not in chain:
        return {"label_classes": None}
    workflow = chain["model_version"]["workflow"]
    declared = load_fleet().workflows.get(workflow)
    if declared is None or not access.can_release(workflow):
        return {"label_classes": None}
    return {"label_classes": list(declared.classes)}


def give_label(access: Access, workflow: str, sha256: str, label: str, reason: str) -> labels.Label:
    """Record the user's label for a stored image of `workflow`."""
    require_release(access, workflow)
    declared = load_fleet().workflows.get(workflow)
    if declared is None:
        raise NotFound(f"workflow {workflow!r} is not declared")
    with Session(db.engine()) as session, session.begin():
        return labels.add_label(
            session,
            workflow,
            sha256.lower(),
            label,
            classes=declared.classes,
            actor=actor(access),
            reason=reason,
        )


def router(access: AccessDependency) -> APIRouter:
    pages = APIRouter(include_in_schema=False)
    User = Depends(access)

    @pages.post("/lineage/{sha256}/label", dependencies=[Depends(require_same_origin)])
    def label(
        request: Request,
        sha256: str,
        workflow: str = Form(...),
        label: str = Form(...),
        reason: str = Form(""),
        user: Access = User,
    ) -> Response:
        given = give_label(user, workflow, sha256, label, reason)
        url = links(request).lineage(given.image_sha256)
        done = quote(f"labelled {given.label} by {given.actor}")
        return RedirectResponse(f"{url}?done={done}", status_code=303)

    return pages
