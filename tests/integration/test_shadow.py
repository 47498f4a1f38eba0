"""Shadow release against the live endpoint (a `modelfleet serve` subprocess) and the
real registry: with release.shadow_fraction 1.0, production's traffic is mirrored to the
candidate, its answers land in shadow_answer, agreement is computed, and the shadow
step (its sensor's poke, called as Airflow would) passes, or rejects at the timeout with
the reason recorded as a gate_decision row."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace

import httpx
import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

from modelfleet.endpoint_client import EndpointClient
from tests.integration.conftest import Platform, all_versions, eventually, promote

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REQUESTS = 12  # each with 4 images: 48 mirrored rows at fraction 1.0


def _set_release(platform: Platform, **release: object) -> None:
    doc = yaml.safe_load(platform.config.read_text())
    doc["workflows"]["digits"].setdefault("release", {}).update(release)
    platform.config.write_text(yaml.safe_dump(doc))


@pytest.fixture(scope="module")
def shadowed(served: Platform) -> Iterator[tuple[Platform, str, str]]:
    """Production on the older version, the newer one `candidate`, shadow at 1.0."""
    from tests.integration.test_retrain_dag import production

    original = served.config.read_text()
    older, newer = sorted(all_versions(served), key=lambda v: tuple(map(int, v[1:].split("."))))[
        -2:
    ]
    was = production(served)
    assert promote(served, served.endpoint_url, older, "shadow test").status_code == 200
    _set_release(served, shadow_fraction=1.0, min_shadow_requests=40, min_shadow_agreement=0.5)
    try:
        with EndpointClient(
            served.endpoint_url, headers=served.admin_headers, timeout=10
        ) as client:
            client.wait_for_version("digits", older)
        yield served, older, newer
    finally:
        served.config.write_text(original)
        if was is not None and was != older:
            promote(served, served.endpoint_url, was, "shadow test done")


def _answers(platform: Platform, candidate: str) -> list[sa.Row]:
    engine = sa.create_engine(platform.database_url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    sa.text(
                        "SELECT p.version AS production, c.version AS candidate, "
                        "s.production_label, s.candidate_label FROM shadow_answer s "
                        "JOIN model_version p ON p.id = s.production_version_id "
                        "JOIN model_version c ON c.id = s.candidate_version_id "
                        "WHERE c.version = :v"
                    ),
                    {"v": candidate},
                )
            )
    finally:
        engine.dispose()


def _send(platform: Platform) -> None:
    from modelfleet.config import load_fleet
    from modelfleet.datasets.sources import source_for

    images = [s.data for s in source_for(load_fleet().get("digits")).test_set()[:4]]
    body = {"instances": [{"b64": base64.b64encode(i).decode()} for i in images]}
    with httpx.Client(base_url=platform.endpoint_url, headers=platform.admin_headers) as client:
        for _ in range(REQUESTS):
            answer = client.post("/v1/models/digits:predict", json=body)
            assert answer.status_code == 200


def _poke(platform: Platform, candidate: str, **release: object) -> object:
    """The shadow step's poke, as Airflow calls it, for the workflow as configured."""
    from modelfleet.config import load_fleet
    from modelfleet.orchestration.shadow_step import ShadowRelease

    workflow = load_fleet(platform.config).get("digits")
    step = ShadowRelease(workflow=workflow, registered={"version": candidate})
    run = SimpleNamespace(dag_id="retrain__digits", run_id="shadow_test")
    return step.poke({"dag_run": run})


def test_production_traffic_is_mirrored_and_the_step_passes(shadowed):
    from airflow.sdk import PokeReturnValue

    platform, older, newer = shadowed
    before = len(_answers(platform, newer))
    # the endpoint reads release.shadow_fraction again within 30 s: send until it does
    assert eventually(
        lambda: _send(platform) or len(_answers(platform, newer)) > before, timeout_s=90
    )
    rows = _answers(platform, newer)
    assert {(r.production, r.candidate) for r in rows} == {(older, newer)}
    labels = {str(d) for d in range(10)}
    assert {r.production_label for r in rows} <= labels
    assert {r.candidate_label for r in rows} <= labels
    assert eventually(lambda: _send(platform) or len(_answers(platform, newer)) >= 40, 90)

    from modelfleet.registry import db
    from modelfleet.registry.store import shadow, versions

    with Session(db.engine(platform.database_url)) as session:
        got = shadow.agreement(session, versions.get_version(session, "digits", newer).id)
    assert got.answered >= 40
    assert sum(n for n, _ in got.per_class.values()) == got.answered
    assert got.rate is not None and got.rate > 0.5  # two versions of one model, same images
    done = _poke(platform, newer)
    assert isinstance(done, PokeReturnValue) and done.is_done
    assert done.xcom_value["passed"] is True
    assert done.xcom_value["agreement"]["answered"] >= 40

    # the same agreement on the endpoint's /metrics and in the Models UI's panel
    gauge = f'modelfleet_shadow_agreement{{candidate="{newer}",model="digits"}}'

    def scraped() -> bool:
        return gauge in httpx.get(f"{platform.endpoint_url}/metrics", timeout=10).text

    assert eventually(scraped, timeout_s=90)
    from modelfleet.config import load_fleet
    from modelfleet.ui.monitoring import shadow_agreement

    with Session(db.engine(platform.database_url)) as session:
        shown = shadow_agreement(session, load_fleet(platform.config).get("digits"))
    assert shown is not None and shown["candidate"] == newer and shown["answered"] >= 40


def _rejection(platform: Platform, version: str) -> dict:
    """The shadow check of the rejected gate_decision recorded for `version`."""
    from modelfleet.registry import db
    from modelfleet.registry.store import runs, versions

    with Session(db.engine(platform.database_url)) as session:
        training_run_id = versions.get_version(session, "digits", version).training_run_id
        decision = runs.latest_gate_decision(session, training_run_id)
    assert decision is not None and not decision.passed
    check = decision.checks[-1]
    assert check["name"] == "shadow_agreement" and not check["passed"]
    return check


def test_too_few_answers_wait_then_reject_at_the_timeout(shadowed):
    from airflow.sdk.exceptions import AirflowSkipException

    platform, _, newer = shadowed
    _set_release(platform, min_shadow_requests=1_000_000, shadow_timeout="1000d")
    assert _poke(platform, newer) is False  # not enough answers, time left: wait
    _set_release(platform, shadow_timeout="1s")  # registered long before that
    with pytest.raises(AirflowSkipException, match=r"release\.shadow_timeout"):
        _poke(platform, newer)
    check = _rejection(platform, newer)
    assert "release.min_shadow_requests 1000000" in check["detail"]


def test_agreement_below_the_bar_rejects_naming_both_figures(shadowed):
    from airflow.sdk.exceptions import AirflowSkipException

    from modelfleet.registry.store.shadow import ShadowWriter

    platform, older, newer = shadowed
    # This test's answers, told apart by their time: the candidate disagrees on 30 of 40.
    at = datetime(2001, 1, 1, tzinfo=UTC)
    engine = sa.create_engine(platform.database_url)
    try:
        written = ShadowWriter(engine)(
            [("digits", older, newer, "7", "7", at)] * 10
            + [("digits", older, newer, "7", "1", at)] * 30
        )
        assert written == 40
        _set_release(platform, min_shadow_requests=1, min_shadow_agreement=0.99)
        with pytest.raises(AirflowSkipException, match=r"release\.min_shadow_agreement"):
            _poke(platform, newer)
        check = _rejection(platform, newer)
        assert "release.min_shadow_agreement is 99.00%" in check["detail"]
        assert check["threshold"] == 0.99 and check["observed"] < 0.99
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM shadow_answer WHERE at = :at"), {"at": at})
        engine.dispose()
