"""Who may see and do what in the Models UI: Airflow's own users and roles.

Airflow attaches a plugin's FastAPI app with `app.mount()`, and a mount inherits
none of the core API's dependencies, so the plugin authenticates every request
itself (`airflow_access` is an app-wide dependency of `create_app`). The user comes
from Airflow's `get_user`: a bearer token, else the `_token` cookie the Airflow UI
holds. Permissions are asked of Airflow's auth manager, per workflow, on the
workflow's `retrain__<wf>` DAG:

- reading a workflow's versions, lineage, plots and Data Docs needs GET on the DAG;
- rolling back or re-pinning needs POST on the DAG's runs: whoever may run the
  workflow's pipeline (whose deploy step moves production) may move it by hand.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import HTTPException, Request

from modelfleet.naming import retrain_dag_id  # its permissions are the workflow's
from modelfleet.releases import may_release


class Access(Protocol):
    """The signed-in Airflow user and what they may do."""

    @property
    def user(self) -> str: ...

    def can_read(self, workflow: str) -> bool: ...

    def can_release(self, workflow: str) -> bool: ...


AccessDependency = Callable[[Request], Awaitable[Access]]


@dataclass(frozen=True)
class AirflowAccess:
    """Access as Airflow's auth manager grants it (any auth manager, not only Simple)."""

    airflow_user: Any  # airflow BaseUser
    manager: Any  # airflow BaseAuthManager

    @property
    def user(self) -> str:
        return str(self.airflow_user.get_name())

    def can_read(self, workflow: str) -> bool:
        from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

        return bool(
            self.manager.is_authorized_dag(
                method="GET",
                details=DagDetails(id=retrain_dag_id(workflow)),
                user=self.airflow_user,
            )
        )

    def can_release(self, workflow: str) -> bool:
        return may_release(self.manager, self.airflow_user, workflow)


async def airflow_access(request: Request) -> Access:
    """Resolve the request's Airflow user (401 without a valid token; 403 for a bad one)."""
    # Imported per call: the plugin module is also imported by the scheduler and the
    # DAG processor, which have no auth manager and no use for the API machinery.
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    credentials = await bearer_scheme(request)
    user = await get_user(request, None, credentials)
    return AirflowAccess(user, get_auth_manager())


def readable(access: Access, workflows: Iterable[str]) -> list[str]:
    """The workflows, in order, that the user may read."""
    return [w for w in workflows if access.can_read(w)]


def require_read(access: Access, workflow: str) -> None:
    """403 unless the user may read `workflow`."""
    if not access.can_read(workflow):
        raise HTTPException(403, f"user {access.user!r} may not read workflow {workflow!r}")


def require_release(access: Access, workflow: str) -> None:
    """403 unless the user may move `workflow`'s versions (rollback, pin)."""
    if not access.can_release(workflow):
        raise HTTPException(
            403,
            f"user {access.user!r} may not move versions of workflow {workflow!r}: that needs "
            f"permission to run the DAG {retrain_dag_id(workflow)}",
        )


def require_same_origin(request: Request) -> None:
    """Refuse a cross-site form post (defence in depth: Airflow's cookie is SameSite=Lax)."""
    origin = request.headers.get("origin")
    if origin is None:  # not a browser, or a same-origin GET-style navigation
        return
    host = request.headers.get("host", "")
    if origin.split("://", 1)[-1] != host:
        raise HTTPException(403, f"cross-origin request from {origin} refused")
