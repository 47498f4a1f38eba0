"""Access rules: DAG ids and origins (the roles are checked in tests/integration/test_ui.py,
where Airflow is configured before it is imported)."""

from __future__ import annotations

import pytest
from fastapi import HTTPException
from starlette.requests import Request

from modelfleet.naming import retrain_dag_id, workflow_of_dag
from modelfleet.ui.access import require_same_origin


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
