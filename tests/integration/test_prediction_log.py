"""The prediction log of the live endpoint (a `modelfleet serve` subprocess, a real digits
model from a real DAG run): predictions over HTTP land in prediction_log, sampled at
monitor.sample_rate (default 0.1), with input statistics and an 8-float projected
embedding; the stream's requests are logged once each, with their images' sha256."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.embedding import PROJECTED_DIMS
from modelfleet.endpoint_client import EndpointClient
from tests.integration.conftest import Platform, eventually, frozen_test_image, release_digits

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def live(platform: Platform) -> Platform:
    from tests.integration.test_retrain_dag import production

    release_digits(platform, 1)
    with EndpointClient(
        platform.endpoint_url, headers=platform.admin_headers, timeout=10
    ) as client:
        client.wait_for_version("digits", production(platform))
    return platform


def logged(platform: Platform, where: str = "TRUE") -> list[sa.Row]:
    engine = sa.create_engine(platform.database_url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    sa.text(
                        "SELECT source, application, image_sha256, predicted, confidence, "
                        "brightness, contrast, height, width, channels, embedding, "
                        "model_version_id FROM prediction_log l JOIN workflow w "
                        f"ON w.id = l.workflow_id WHERE w.name = 'digits' AND {where}"
                    )
                )
            )
    finally:
        engine.dispose()


def test_api_predictions_are_sampled_into_the_log_with_stats_and_embedding(live):
    before = len(logged(live, "source = 'api'"))
    image = base64.b64encode(frozen_test_image()).decode()
    body = {"instances": [{"b64": image}] * 10}
    with httpx.Client(base_url=live.endpoint_url, headers=live.admin_headers) as client:
        for _ in range(30):  # 300 predictions at the default rate 0.1
            assert client.post("/v1/models/digits:predict", json=body).status_code == 200
    assert eventually(lambda: len(logged(live, "source = 'api'")) > before, timeout_s=30)
    rows = logged(live, "source = 'api'")
    assert before < len(rows) < before + 300  # sampled, not all
    row = rows[-1]
    assert row.predicted in [str(d) for d in range(10)] and 0 < row.confidence <= 1
    assert 0 <= row.brightness <= 1 and row.contrast >= 0
    assert (row.height, row.width, row.channels) == (28, 28, 1)
    assert len(row.embedding) == PROJECTED_DIMS and any(v != 0 for v in row.embedding)
    assert row.model_version_id is not None and row.image_sha256 is None


def test_a_stream_request_is_logged_once_per_image_with_its_hash(live):
    from modelfleet.registry.api_keys import INGEST_APP
    from modelfleet.settings import get_settings

    images = [frozen_test_image()] * 200
    hashes = [hashlib.sha256(f"stream image {i}".encode()).hexdigest() for i in range(200)]
    # as the stream classifier sends them: with its own key, the only one whose origin
    # headers count (another application's are dropped: see the end)
    with EndpointClient.for_app(get_settings(), INGEST_APP, timeout=30) as client:
        for start in range(0, 200, 50):
            client.infer(
                "digits", images[start : start + 50], stream_sha256=hashes[start : start + 50]
            )

    def stream_rows() -> list[sa.Row]:
        return [r for r in logged(live, "source = 'stream'") if r.image_sha256 in hashes]

    assert eventually(lambda: len(stream_rows()) > 0, timeout_s=30)
    rows = stream_rows()
    seen = [r.image_sha256 for r in rows]
    assert len(seen) == len(set(seen))  # once, not twice
    assert len(rows) < 200  # sampled at 0.1
    assert {r.application for r in rows} == {INGEST_APP}

    # The same headers from the admin key: logged as its own (api) rows, with no hashes.
    before = len(logged(live, "source = 'api'"))
    with EndpointClient(live.endpoint_url, headers=live.admin_headers, timeout=30) as client:
        for _ in range(4):
            client.infer("digits", images[:50], stream_sha256=hashes[:50])
    assert eventually(lambda: len(logged(live, "source = 'api'")) > before, timeout_s=30)
    assert len(stream_rows()) == len(rows)


def test_the_reference_of_a_released_version_is_computed_once_and_stored(live):
    from modelfleet.monitoring.reference import ensure_reference
    from tests.integration.test_retrain_dag import production

    version = production(live)
    stats = ensure_reference("digits", version)
    assert set(stats["class_shares"]) == {str(d) for d in range(10)}
    assert sum(stats["class_shares"].values()) == pytest.approx(1.0)
    assert 0 < len(stats["embedding_sample"]) <= 1000
    assert all(len(row) == PROJECTED_DIMS for row in stats["embedding_sample"])
    assert len(stats["brightness"]) == len(stats["contrast"]) == stats["n_train"]
    assert stats["penultimate"] is True and stats["shapes"] == [[28, 28, 1]]
    engine = sa.create_engine(live.database_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(
                sa.text(
                    "SELECT count(*) FROM reference_stats r JOIN model_version v "
                    "ON v.id = r.model_version_id JOIN workflow w ON w.id = v.workflow_id "
                    "WHERE w.name = 'digits' AND v.version = :v"
                ),
                {"v": version},
            ).scalar_one()
    finally:
        engine.dispose()
    assert stored == 1
    assert ensure_reference("digits", version) == stats  # read back, not computed again


def _requests_since(platform: Platform, minute: datetime) -> tuple[int, int, int]:
    """(answered, rejected, failed) the endpoint counted for digits from `minute` on."""
    from modelfleet.registry.monitor_reads import window_requests, workflow_id
    from modelfleet.registry.reader import session_query

    engine = sa.create_engine(platform.database_url)
    try:
        with Session(engine) as session:
            query = session_query(session)
            digits = workflow_id(query, "digits")
            assert digits is not None
            return window_requests(query, digits, minute, minute + timedelta(hours=1))
    finally:
        engine.dispose()


def test_refused_requests_count_towards_an_error_rate_alert(live, capsys):
    """The endpoint counts inference requests by outcome (request_count, flushed every
    few seconds); the monitor's report divides them and alerts above max_error_rate.
    Callers it did not accept are not counted: a stranger cannot raise the rate."""
    from modelfleet.cli import main
    from modelfleet.config import load_fleet
    from modelfleet.monitoring.compute import compute_report
    from modelfleet.registry.reader import direct_query

    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    image = base64.b64encode(frozen_test_image()).decode()
    with httpx.Client(base_url=live.endpoint_url, headers=live.admin_headers) as client:
        answered, rejected, failed = _settled(live, minute)  # earlier requests' counts
        for _ in range(20):
            body = {"instances": [{"b64": image}]}
            assert client.post("/v1/models/digits:predict", json=body).status_code == 200
        for _ in range(40):  # a camera sending the wrong shape
            body = {"instances": [[0.5, 0.5]]}
            assert client.post("/v1/models/digits:predict", json=body).status_code == 400
        for _ in range(5):
            stranger = {"Authorization": "Bearer mf-not-a-key"}
            body = {"instances": [{"b64": image}]}
            assert (
                client.post("/v1/models/digits:predict", json=body, headers=stranger).status_code
                == 401
            )

    expected = (answered + 20, rejected + 40, failed)
    assert eventually(lambda: _requests_since(live, minute) == expected, timeout_s=30), (
        _requests_since(live, minute),
        expected,
    )
    wf = load_fleet().get("digits")
    end = datetime.now(UTC) + timedelta(minutes=1)
    with direct_query() as query:
        report = compute_report(query, wf, minute, end)
    total = sum(expected)
    assert report["requests"] == {
        "total": total,
        "answered": expected[0],
        "rejected": expected[1],
        "failed": failed,
    }
    assert report["error_rate"] == pytest.approx((expected[1] + failed) / total)
    alert = next(a for a in report["alerts"] if a["kind"] == "error_rate")
    assert alert["threshold"] == wf.monitor.thresholds.max_error_rate < alert["statistic"]

    assert main(["monitor", "digits", "--window", "10m", "--json"]) == 0
    # the CLI's window (the last 10 minutes) holds other tests' requests too: its figures
    # are checked, the alert only over this test's own window above
    said = json.loads(capsys.readouterr().out)
    assert said["error_rate"] is not None and said["requests"]["rejected"] >= 40
    assert main(["monitor", "digits", "--window", "10m"]) == 0
    text = capsys.readouterr().out
    assert "  error rate: " in text and " refused, " in text


def _settled(platform: Platform, minute: datetime) -> tuple[int, int, int]:
    """The counts once they stay the same for longer than the endpoint's flush interval
    (5 s): what earlier requests added is in by then."""
    seen = _requests_since(platform, minute)
    for _ in range(10):
        time.sleep(6)
        now = _requests_since(platform, minute)
        if now == seen:
            return now
        seen = now
    raise AssertionError(f"the request counts kept changing: {seen}")
