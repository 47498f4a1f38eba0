"""Access rules: DAG ids, origins, and Airflow's SimpleAuthManager roles as the UI asks them."""

from __future__ import annotations

import pytest
from fastapi import HTTPException
from starlette.requests import Request

from modelfleet.ui.access import (
    AirflowAccess,
    require_release,
    require_same_origin,
    retrain_dag_id,
    workflow_of_dag,
)


def test_dag_ids_and_workflows_are_inverse():
    assert workflow_of_dag(retrain_dag_id("digits")) == "digits"
    assert workflow_of_dag("reclassify__digits") == "digits"
    assert workflow_of_dag("retrain__") is None
    assert workflow_of_dag("example_dag") is None


def request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": raw})


def test_posts_from_another_origin_are_refused():
    require_same_origin(request({"host": "127.0.0.1:8080", "origin": "http://127.0.0.1:8080"}))
    require_same_origin(request({"host": "127.0.0.1:8080"}))  # curl, httpx: no Origin
    for origin in ("https://evil.example", "null"):
        with pytest.raises(HTTPException) as caught:
            require_same_origin(request({"host": "127.0.0.1:8080", "origin": origin}))
        assert caught.value.status_code == 403


@pytest.mark.parametrize(
    ("role", "read", "release"),
    [("viewer", True, False), ("user", True, True), ("op", True, True), ("admin", True, True)],
)
def test_simple_auth_manager_roles(role, read, release):
    """Viewers read; whoever may trigger the DAG may move its versions."""
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    access = AirflowAccess(SimpleAuthManagerUser(username=role, role=role), SimpleAuthManager())
    assert access.user == role
    assert access.can_read("digits") is read
    assert access.can_release("digits") is release
    if not release:
        with pytest.raises(HTTPException, match="run the DAG retrain__digits"):
            require_release(access, "digits")
