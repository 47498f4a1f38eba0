"""`POST /v1/feedback/{wf}` over real HTTP (uvicorn in a thread, real registry keys and
grants in Postgres): 403 without the label grant, 400 on a label outside the classes,
404 for an image the workflow never stored, and the label recorded with its actor."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from sqlalchemy.orm import Session

from modelfleet.host.ports import free_port
from modelfleet.registry import db
from modelfleet.registry.store import applications, ingest_files, labels
from modelfleet.serving.app import create_app
from modelfleet.serving.auth import Authenticator
from modelfleet.serving.pool import ModelPool
from modelfleet.serving.protocol import server_options
from modelfleet.settings import EndpointLimits, get_settings
from tests.conftest import create_database, drop_database

pytestmark = [pytest.mark.integration]
WF = "surface_line1"
IMAGE = "ab" * 32


@pytest.fixture(scope="module")
def keys(pg_server: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A registry with one stored image of WF; `hmi` may query WF, `floor` may label it."""
    url = create_database(pg_server, "mf_feedback")
    db.migrate(url)
    with Session(db.engine(url)) as session, session.begin():
        ingest_files.receive(session, WF, [(IMAGE, b"part.png", "part.png")], "2026-03-02")
        made = {
            name: applications.create_application(
                session, name, grants={WF: "production"}, actor="test"
            )
            for name in ("hmi", "floor")
        }
        applications.set_grant(
            session, "floor", WF, "production", actor="test", reason="the line", label=True
        )
    yield url, made  # type: ignore[misc]
    drop_database(url)


@pytest.fixture(scope="module")
def endpoint(keys: tuple[str, dict[str, str]]) -> Iterator[str]:
    url, _ = keys
    limits = EndpointLimits()
    app = create_app(
        ModelPool(get_settings().serving_root, {}),
        get_settings(),
        database_url=url,
        auth=Authenticator(url, limits=limits),
        limits=limits,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, **server_options(limits))
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def post(endpoint: str, key: str | None, body: object, workflow: str = WF) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{endpoint}/v1/feedback/{workflow}", json=body, headers=headers, timeout=30)


def test_labelling_needs_the_label_grant(endpoint, keys):
    _, made = keys
    body = {"sha256": IMAGE, "label": "scratch"}
    assert post(endpoint, None, body).status_code == 401
    refused = post(endpoint, made["hmi"], body)
    assert refused.status_code == 403, refused.text
    assert "no label grant" in refused.json()["error"]


def test_a_label_outside_the_classes_is_400_naming_them(endpoint, keys):
    _, made = keys
    bad = post(endpoint, made["floor"], {"sha256": IMAGE, "label": "dent"})
    assert bad.status_code == 400, bad.text
    assert "'dent' is not one of its classes: ok, scratch, spot, crack" in bad.json()["error"]
    for body in ({"label": "ok"}, {"sha256": IMAGE, "label": 3}, [1]):
        assert post(endpoint, made["floor"], body).status_code == 400
    unknown = post(endpoint, made["floor"], {"sha256": "cd" * 32, "label": "ok"})
    assert unknown.status_code == 404, unknown.text
    # a workflow it may not label, declared or not: 403 either way
    elsewhere = post(endpoint, made["floor"], {"sha256": IMAGE, "label": "ok"}, "nope")
    assert elsewhere.status_code == 403


def test_a_label_is_recorded_with_the_application_as_actor(endpoint, keys):
    url, made = keys
    given = post(
        endpoint, made["floor"], {"sha256": IMAGE, "label": "scratch", "reason": "deep one"}
    )
    assert given.status_code == 200, given.text
    assert given.json()["actor"] == "api:floor"
    with Session(db.engine(url)) as session:
        latest = labels.latest_label(session, WF, IMAGE)
    assert latest is not None
    assert (latest.label, latest.actor, latest.reason) == ("scratch", "api:floor", "deep one")
