"""Keys and management against the real registry (Postgres, argon2): an unknown key id
costs one argon2 verification like a wrong secret; failed attempts are limited per
address alike for both, never for a key already verified; grants and pins name declared
workflows and registered versions only, through the admin API and the CLI alike; every
number in an admin body is bounded."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from modelfleet.registry import db
from modelfleet.registry.store import applications, versions
from modelfleet.registry.tables import WorkflowRow
from modelfleet.serving.app import create_app
from modelfleet.serving.auth import Authenticator
from modelfleet.serving.pool import ModelPool
from modelfleet.settings import EndpointLimits, get_settings
from tests.conftest import create_database, drop_database
from tests.unit.ui.conftest import _version as register_version

pytestmark = [pytest.mark.integration, pytest.mark.slow]
HUGE = "9" * 5000


class CountingHasher:
    """The store's argon2 hasher, counting verifications (it has __slots__: wrapped)."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.verified = 0

    def verify(self, hashed: str, key: str) -> bool:
        self.verified += 1
        return self.real.verify(hashed, key)  # type: ignore[attr-defined]

    def hash(self, key: str) -> str:
        return self.real.hash(key)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def database_url(pg_server: str) -> Iterator[str]:
    """A lineage database of this module's own: its tests commit rows."""
    url = create_database(pg_server, "mf_keys")
    db.migrate(url)
    yield url
    drop_database(url)


@pytest.fixture
def registry(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> Iterator[dict[str, str]]:
    """digits v1.0.0 registered; applications `ops` (admin) and `hmi`; their keys."""
    monkeypatch.setenv("MODELFLEET_DATABASE_URL", database_url)
    monkeypatch.setenv("MODELFLEET_HOME", str(tmp_path))
    db.forget_engines()
    with Session(db.engine(database_url)) as session, session.begin():
        for table in ("application_grant", "application"):
            session.execute(sa.text(f'DELETE FROM "{table}"'))
        if not versions.list_versions(session, "digits"):
            register_version(session, "v1.0.0", "2026-01", 0.9)
        keys = {
            "ops": applications.create_application(
                session, "ops", grants={}, actor="test", admin=True
            ),
            "hmi": applications.create_application(
                session, "hmi", grants={"digits": "production"}, actor="test"
            ),
        }
    yield keys  # type: ignore[misc]
    db.forget_engines()


@pytest.fixture
def endpoint(database_url: str, registry: dict[str, str]) -> Iterator[TestClient]:
    settings = get_settings()
    pool = ModelPool(settings.serving_root, {})
    limits = EndpointLimits(auth_failures_per_min=10)
    auth = Authenticator(database_url, limits=limits)
    app = create_app(pool, settings, database_url=database_url, auth=auth, limits=limits)
    with TestClient(app) as client:
        # The registry watcher's first sync clears the key cache (applications changed):
        # wait for it, or a key cached before it is verified, and limited, again.
        for _ in range(300):
            if client.get("/v2/health/ready").status_code == 200:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the endpoint never synced with the registry")
        client.headers["Authorization"] = f"Bearer {registry['ops']}"
        yield client


def test_an_unknown_key_id_costs_one_argon2_verification_like_a_wrong_secret(
    database_url, registry, monkeypatch
):
    hasher = CountingHasher(applications._hasher)
    monkeypatch.setattr(applications, "_hasher", hasher)
    known = registry["hmi"]
    wrong_secret = known[:-4] + ("aaaa" if not known.endswith("aaaa") else "bbbb")
    unknown_id = "mf_" + "0" * 12 + known[15:]
    with Session(db.engine(database_url)) as session:
        for key, expected in ((wrong_secret, None), (unknown_id, None), (known, "hmi")):
            before = hasher.verified
            app = applications.authenticate(session, key)
            assert (app.name if app else None) == expected
            assert hasher.verified == before + 1, key
        before = hasher.verified
        assert applications.authenticate(session, "not-a-key") is None
        assert hasher.verified == before  # a malformed key says nothing about key ids


def test_failed_attempts_are_limited_alike_for_known_and_unknown_key_ids(endpoint, registry):
    assert endpoint.get("/admin/applications").status_code == 200  # ops' key: now cached
    known = registry["hmi"]
    wrong_secret = {"Authorization": "Bearer " + known[:-4] + "zzzz"}
    unknown_id = {"Authorization": "Bearer mf_" + "0" * 12 + known[15:]}
    for headers in [wrong_secret, unknown_id] * 5:
        assert endpoint.get("/v2/models/digits", headers=headers).status_code == 401
    for headers in (wrong_secret, unknown_id, {"Authorization": f"Bearer {known}"}):
        limited = endpoint.get("/v2/models/digits", headers=headers)
        assert limited.status_code == 429, limited.text
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert "at most 10 a minute" in limited.json()["error"]
    assert endpoint.get("/admin/applications").status_code == 200  # verified: never limited


def workflow_rows(database_url: str) -> set[str]:
    with Session(db.engine(database_url)) as session:
        return set(session.scalars(sa.select(WorkflowRow.name)))


@pytest.mark.parametrize(
    ("workflow", "pin", "message"),
    [
        ("not_declared", "production", "workflow 'not_declared' is not declared; declared: "),
        ("digits", "v9.9.9", "cannot pin digits to v9.9.9"),
        ("digits", f"v{HUGE}.0.0", "'pin' must be a version vX.Y.Z"),
        ("digits", "v1.0.1000", "'pin' must be a version vX.Y.Z"),
        ("digits", "latest", "'pin' must be a version vX.Y.Z"),
    ],
)
def test_a_grant_or_pin_for_nothing_declared_or_registered_is_a_400(
    endpoint, database_url, workflow, pin, message
):
    before = workflow_rows(database_url)
    response = endpoint.put(
        f"/admin/applications/hmi/grants/{workflow}", json={"pin": pin, "reason": "test"}
    )
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert len(response.text) < 2000
    assert workflow_rows(database_url) == before  # no row for the fleet pages to list


def test_a_grant_for_an_application_name_that_cannot_exist_is_a_404(endpoint):
    response = endpoint.put(
        "/admin/applications/%00/grants/digits", json={"pin": "production", "reason": "t"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        (
            "/admin/models/digits/promote",
            {"version": f"v{HUGE}.0.0", "reason": "r"},
            400,
            "'version' must be a version",
        ),
        ("/admin/models/digits/promote", {"version": 7, "reason": "r"}, 400, "got int"),
        (
            "/admin/models/digits/rollback",
            {"to": "v1.0." + HUGE, "reason": "r"},
            400,
            "'to' must be a version",
        ),
        ("/admin/models/digits/rollback", {"to": None, "reason": "r"}, 400, "got NoneType"),
        (
            "/admin/models/digits/promote",
            {"version": "v1.0.0", "reason": "a\x00b"},
            400,
            "without NUL",
        ),
        (
            "/admin/models/digits/promote",
            {"version": "v1.0.0", "reason": "r" * 1001},
            400,
            "at most 1000 characters",
        ),
        (
            "/admin/models/not_declared/promote",
            {"version": "v1.0.0", "reason": "r"},
            404,
            "no workflow named 'not_declared' is declared",
        ),
    ],
)
def test_admin_bodies_are_bounded(endpoint, path, body, status, message):
    response = endpoint.post(path, json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert len(response.text) < 2000


def test_admin_operations_document_the_registry_s_refusals(endpoint):
    paths = endpoint.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for operation in operations.values():
            assert ("409" in operation["responses"]) == path.startswith("/admin/"), path


def test_the_cli_refuses_grants_and_pins_for_nothing_declared_or_registered(
    registry, database_url, capsys
):
    from modelfleet.cli import main

    before = workflow_rows(database_url)
    # unknown names are usage errors (exit 2) that list what exists
    for args, named in (
        (["apps", "grant", "hmi", "not_declared=production", "--reason", "r"], "not_declared"),
        (["apps", "grant", "hmi", "digits=v9.9.9", "--reason", "r"], "v9.9.9"),
        (["apps", "create", "line", "--grant", "digits=v9.9.9"], "v9.9.9"),
    ):
        with pytest.raises(SystemExit) as exited:
            main(args)
        assert exited.value.code == 2
        assert named in capsys.readouterr().err
    assert workflow_rows(database_url) == before
    assert main(["apps", "grant", "hmi", "digits=v1.0.0", "--reason", "r"]) == 0
