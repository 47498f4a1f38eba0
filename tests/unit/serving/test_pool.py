"""The pool's version policy and swap, with loading faked (TensorFlow is the boundary)."""

from __future__ import annotations

import pytest

from modelfleet.errors import ModelNotFound, ModelNotReady
from modelfleet.serving import pool as pool_module
from modelfleet.serving.pool import ModelPool, Wanted
from tests.unit.serving.conftest import fake_model


@pytest.fixture
def pool(monkeypatch, tmp_path):
    loads: list[str] = []

    def load(root, workflow, version, policy, on_batch=None):
        if str(version) == "v9.9.9":
            raise RuntimeError("corrupt SavedModel")
        loads.append(str(version))
        return fake_model(str(version), version.as_int())

    monkeypatch.setattr(pool_module, "load_version", load)
    pool = ModelPool(tmp_path, {"digits": None, "other": None})  # type: ignore[dict-item]
    pool.loads = loads  # type: ignore[attr-defined]
    return pool


def test_policy_keeps_production_previous_candidate_and_pins_only(pool):
    pool.apply(
        {
            "digits": Wanted(
                {"production": "v1.1.0", "candidate": "v1.2.0"}, frozenset({"v1.0.0", "v0.5.0"})
            )
        }
    )
    assert pool.loaded() == {"digits": ["v0.5.0", "v1.0.0", "v1.1.0", "v1.2.0"]}
    changes = pool.apply(
        {"digits": Wanted({"production": "v1.2.0", "candidate": "v1.2.0"}, frozenset({"v1.1.0"}))}
    )
    assert pool.loaded() == {"digits": ["v1.1.0", "v1.2.0"]}
    assert "unloaded digits v0.5.0" in changes and "digits production -> v1.2.0" in changes
    assert pool.loads == ["v0.5.0", "v1.0.0", "v1.1.0", "v1.2.0"]  # nothing loaded twice


def test_in_flight_reference_survives_the_swap(pool):
    pool.apply({"digits": Wanted({"production": "v1.0.0"})})
    held = pool.resolve("digits")
    pool.apply({"digits": Wanted({"production": "v1.1.0"})})
    assert held.version == "v1.0.0" and pool.resolve("digits").version == "v1.1.0"


def test_a_version_that_fails_to_load_leaves_the_alias_where_it_was(pool):
    pool.apply({"digits": Wanted({"production": "v1.0.0"})})
    pool.apply({"digits": Wanted({"production": "v9.9.9"})})
    assert pool.resolve("digits").version == "v1.0.0"


def test_unknown_not_ready_and_unloaded_versions_are_named(pool):
    with pytest.raises(ModelNotFound, match="no model named 'nope'"):
        pool.resolve("nope")
    with pytest.raises(ModelNotReady, match="no version loaded yet"):
        pool.resolve("other")
    pool.apply({"digits": Wanted({"production": "v1.0.0"})})
    with pytest.raises(ModelNotFound, match=r"version 7 is not loaded; loaded: 1000000 \(v1.0.0\)"):
        pool.resolve("digits", version_int=7)


def test_insecure_local_lets_everyone_in_as_admin_and_says_so(caplog):
    import asyncio

    from modelfleet.serving.auth import Authenticator

    with caplog.at_level("WARNING"):
        auth = Authenticator(None, insecure_local=True)
    assert "NOT checked" in caplog.text
    principal = asyncio.run(auth.principal({}))
    assert principal.admin and principal.pin_for("anything") == "production"


def test_metrics_report_what_the_pool_serves_at_each_scrape(pool):
    from prometheus_client import generate_latest

    from modelfleet.serving.metrics import Metrics

    metrics = Metrics()
    metrics.follow(pool)
    pool.apply({"digits": Wanted({"production": "v1.0.0", "candidate": "v1.1.0"})})
    text = generate_latest(metrics.registry).decode()
    assert 'modelfleet_loaded_version{model="digits",version="v1.1.0"} 1.0' in text
    assert 'modelfleet_alias_version{alias="candidate",model="digits"} 1.001e+06' in text
    pool.apply({"digits": Wanted({"production": "v1.1.0"})})
    text = generate_latest(metrics.registry).decode()
    assert 'version="v1.0.0"' not in text  # unloaded: gone, not left at a stale value
    assert 'alias="candidate"' not in text


def test_a_key_verified_while_a_revocation_arrives_is_not_cached():
    import asyncio

    from modelfleet.serving.auth import Authenticator, Principal

    class RevokedMidway(Authenticator):
        """Reads the key as valid, then the watcher's invalidation lands (the revoke
        committed after the read): this answer may be used once, never cached."""

        verified = 0

        def _verify(self, key: str) -> Principal | None:
            self.verified += 1
            self.invalidate()
            return Principal("hmi", grants={"digits": "production"})

    auth = RevokedMidway("postgresql://unused")
    headers = {"authorization": "Bearer mf-key"}
    asyncio.run(auth.principal(headers))
    asyncio.run(auth.principal(headers))
    assert auth.verified == 2  # asked the database again: nothing stale was kept


def test_a_workflow_declared_later_is_known_and_an_archived_one_is_not(pool):
    with pytest.raises(ModelNotFound, match="no model named 'photos'"):
        pool.resolve("photos")
    assert pool.set_policies({"digits": None, "other": None, "photos": None}) == [
        "workflow photos declared"
    ]
    pool.apply({"digits": Wanted({"production": "v1.0.0"})})
    with pytest.raises(ModelNotFound, match="'photos' has no deployed version"):
        pool.resolve("photos")  # known: a 404 that says nothing is deployed yet
    pool.apply({"photos": Wanted({"production": "v1.0.0"})})
    assert pool.resolve("photos").version == "v1.0.0"
    assert pool.set_policies({"digits": None, "other": None}) == [
        "workflow photos no longer declared"
    ]
    pool.apply({})  # the registry watcher leaves out what the fleet no longer declares
    with pytest.raises(ModelNotFound, match="no model named 'photos'"):
        pool.resolve("photos")
