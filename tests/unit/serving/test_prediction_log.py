"""The prediction log: sampling, origin, the bounded queue, and COPY into a real Postgres.

The endpoint app is real (in-process) with a numpy stand-in model whose batch function
returns the monitored columns as `serving.monitored` does; the writer is a list where
the test is about the queue, and the real COPY writer where it is about the rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from modelfleet.embedding import PROJECTED_DIMS, input_stats
from modelfleet.endpoint_client import SHA256_HEADER, SOURCE_HEADER
from modelfleet.registry.api_keys import INGEST_APP
from modelfleet.registry.store.monitoring import PredictionLogWriter, copy_text
from modelfleet.registry.store.workflows import ensure_workflow
from modelfleet.serving.app import create_app
from modelfleet.serving.auth import Authenticator, Principal
from modelfleet.serving.batching import Batcher
from modelfleet.serving.pool import LoadedModel, ModelPool
from modelfleet.serving.prediction_log import (
    ORIGIN,
    Origin,
    PredictionLog,
    origin_of,
    set_application,
)
from modelfleet.settings import get_settings
from modelfleet.training.monitored import EXTRA_COLUMNS
from tests.unit.serving.conftest import CLASSES, SHAPE

KEY = "mf-test-log"


def monitored_model() -> LoadedModel:
    def infer(batch: np.ndarray) -> np.ndarray:
        probs = np.full((len(batch), len(CLASSES)), 0.01, dtype=np.float32)
        probs[:, 3] = 0.91
        embedding = np.tile(np.arange(PROJECTED_DIMS, dtype=np.float32), (len(batch), 1))
        return np.concatenate([probs, embedding, input_stats(batch)], axis=1)

    return LoadedModel(
        workflow="digits",
        version="v1.0.0",
        version_int=1_000_000,
        classes=CLASSES,
        input_shape=SHAPE,
        input_name="image",
        output_name="output_0",
        batcher=Batcher(infer, max_batch=8, max_wait_s=0.0),
        extra_columns=EXTRA_COLUMNS,
    )


class Rows(list[Any]):
    """A writer that keeps what it is given (or fails while `down`)."""

    down = False

    def __call__(self, entries: list[Any]) -> int:
        if self.down:
            raise ConnectionError("postgres is down")
        self.extend(entries)
        return len(entries)


def served(log: PredictionLog, application: str = "hmi") -> TestClient:
    """The endpoint with `log`, the client calling as `application` (the stream
    classifier's requests: INGEST_APP, the only one whose origin headers count)."""
    pool = ModelPool(get_settings().serving_root, {})
    pool.add(monitored_model(), "production")
    auth = Authenticator(None)
    auth.add_static(KEY, Principal(application, grants={"digits": "production"}))
    app = create_app(pool, get_settings(), database_url=None, auth=auth, prediction_log=log)
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {KEY}"
    return client


def predict(client: TestClient, rows: int, pixel: float = 0.5, **headers: str) -> Any:
    instances = np.full((rows, *SHAPE), pixel).tolist()
    response = client.post(
        "/v1/models/digits:predict", json={"instances": instances}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


def test_every_prediction_is_logged_at_rate_one_with_stats_and_embedding():
    rows = Rows()
    log = PredictionLog(rows, lambda: {"digits": 1.0})
    with served(log) as client:
        answers = predict(client, 3, pixel=0.25)
        log.flush()
    assert len(answers[0]) == len(CLASSES)  # the extra columns never reach the client
    assert len(rows) == 3
    workflow, version, source, app, sha, label, confidence, bright, contrast, *rest = rows[0]
    assert (workflow, version, source, app, sha, label) == (
        "digits",
        "v1.0.0",
        "api",
        "hmi",
        None,
        "3",
    )
    assert confidence == pytest.approx(0.91)
    assert bright == pytest.approx(0.25) and contrast == pytest.approx(0.0)
    height, width, channels, embedding, _at = rest
    assert (height, width, channels) == SHAPE
    assert embedding == list(map(float, range(PROJECTED_DIMS)))


def test_sampling_follows_the_workflow_rate():
    rows = Rows()
    log = PredictionLog(rows, lambda: {"digits": 0.2}, seed=7)
    with served(log) as client:
        for _ in range(50):
            predict(client, 4)
        log.flush()
    assert 0 < len(rows) < 200  # 200 predictions at 0.2: about 40
    off = Rows()
    log = PredictionLog(off, lambda: {"digits": 0.0})
    with served(log) as client:
        predict(client, 4)
        log.flush()
    assert off == []


def test_a_stream_request_is_logged_once_with_its_image_hashes():
    rows = Rows()
    log = PredictionLog(rows, lambda: {"digits": 1.0})
    hashes = ["a" * 64, "b" * 64]
    with served(log, INGEST_APP) as client:
        predict(client, 2, **{SOURCE_HEADER: "stream", SHA256_HEADER: ",".join(hashes)})
        log.flush()
    assert [(r[2], r[4]) for r in rows] == [("stream", hashes[0]), ("stream", hashes[1])]


def test_only_the_stream_classifiers_key_may_claim_the_streams_origin():
    sha = "ab" * 32
    claimed = origin_of(
        [(b"x-modelfleet-source", b"stream"), (SHA256_HEADER.encode(), sha.encode())]
    )
    assert claimed == Origin("stream", sha256=(sha,))
    for application, expected in [
        (INGEST_APP, Origin("stream", INGEST_APP, (sha,))),
        ("line1-hmi", Origin("api", "line1-hmi")),  # the headers dropped
    ]:
        token = ORIGIN.set(claimed)
        try:
            set_application(application)
            assert ORIGIN.get() == expected
        finally:
            ORIGIN.reset(token)


def test_origin_headers_that_are_not_hashes_or_sources_are_ignored():
    assert origin_of([(b"x-modelfleet-source", b"bogus")]) == Origin("api")
    assert origin_of([(SHA256_HEADER.encode(), b"abc,def")]).sha256 == ()


def test_postgres_down_never_fails_a_request_and_the_queue_drops_its_oldest():
    rows = Rows()
    rows.down = True
    counted: dict[str, int] = {}
    log = PredictionLog(
        rows,
        lambda: {"digits": 1.0},
        capacity=5,
        count=lambda outcome, n: counted.__setitem__(outcome, counted.get(outcome, 0) + n),
    )
    with served(log) as client:
        for pixel in (0.1, 0.2, 0.3, 0.4):
            predict(client, 2, pixel=pixel)  # 8 rows into a queue of 5: the oldest go
        with pytest.raises(ConnectionError):
            log.flush()
        assert log.pending() == 4  # the failed batch went back, nothing more was lost
        rows.down = False
        log.flush()
    assert log.dropped == counted["dropped"] == 4
    assert [round(r[7], 2) for r in rows] == [0.3, 0.3, 0.4, 0.4]  # the newest kept


def test_the_writer_thread_flushes_in_the_background():
    rows = Rows()
    log = PredictionLog(rows, lambda: {"digits": 1.0}, flush_s=0.01)
    with served(log) as client:  # the app's lifespan starts and stops the thread
        predict(client, 2)
    assert len(rows) == 2  # at the latest, stop() flushed them


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(database_url)
    yield engine
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM prediction_log"))
    engine.dispose()


def test_copy_writes_rows_and_skips_unknown_workflows(engine):
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        ensure_workflow(session, "digits")
        session.commit()
    rows = Rows()
    log = PredictionLog(rows, lambda: {"digits": 1.0})
    with served(log, INGEST_APP) as client:
        predict(
            client,
            2,
            pixel=0.5,
            **{SOURCE_HEADER: "stream", SHA256_HEADER: "c" * 64 + ",odd\tname"},
        )
        log.flush()
    unknown = ("nope", *rows[0][1:])
    written = PredictionLogWriter(engine)([*rows, unknown])
    assert written == 2
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text(
                "SELECT source, image_sha256, predicted, embedding, brightness FROM prediction_log"
            )
        ).all()
    # a header that is not all hashes names no image
    assert [(s, sha, p) for s, sha, p, _, _ in stored] == [("stream", None, "3")] * 2
    assert stored[0][3] == [float(d) for d in range(PROJECTED_DIMS)]
    assert stored[0][4] == pytest.approx(0.5)


def test_copy_text_escapes_what_copy_would_misread():
    at = datetime(2026, 12, 4, tzinfo=UTC)
    row = (1, None, "api", "a\tb\\c\nd", None, "3", 0.5, 0.25, 0.0, 28, 28, 1, [0.5, 1.0], at)
    assert copy_text([row]).getvalue() == (
        "1\t\\N\tapi\ta\\tb\\\\c\\nd\t\\N\t3\t0.5\t0.25\t0.0\t28\t28\t1\t{0.5,1.0}\t"
        "2026-12-04T00:00:00+00:00\n"
    )


def test_sampled_stream_rows_keep_their_own_hashes():
    rows = Rows()
    log = PredictionLog(rows, lambda: {"digits": 0.5}, seed=1)
    levels = [i / 20 for i in range(20)]
    hashes = [f"{i:064x}" for i in range(20)]
    instances = [np.full(SHAPE, level).tolist() for level in levels]
    with served(log, INGEST_APP) as client:
        response = client.post(
            "/v1/models/digits:predict",
            json={"instances": instances},
            headers={SOURCE_HEADER: "stream", SHA256_HEADER: ",".join(hashes)},
        )
        assert response.status_code == 200
        log.flush()
    assert 0 < len(rows) < 20
    for row in rows:
        assert row[4] == hashes[round(row[7] * 20)]  # brightness i/20 belongs to hash i
