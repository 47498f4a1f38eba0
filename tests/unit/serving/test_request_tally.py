"""The endpoint's request counts for the error-rate monitor (serving/request_tally.py),
through the app in-process (stand-in models) over HTTP and a real gRPC channel: each
inference request to a declared workflow counts once under its minute as answered,
rejected (4xx) or failed (5xx); callers whose key was refused (401, 429), callers without
the grant, other routes and undeclared names do not. The counts reach the writer in one
batch per flush, and a failed write loses none of them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import grpc
import numpy as np
import pytest
from fastapi.testclient import TestClient

from modelfleet.host.ports import free_port
from modelfleet.registry.store.request_counts import MinuteCount
from modelfleet.serving.app import create_app
from modelfleet.serving.auth import Authenticator, Principal
from modelfleet.serving.batching import Batcher
from modelfleet.serving.grpc import grpc_predict_v2_pb2 as pb
from modelfleet.serving.pool import ModelPool
from modelfleet.serving.request_tally import RequestTally, outcome
from modelfleet.settings import EndpointLimits, get_settings
from tests.unit.serving.conftest import KEYS, fake_model
from tests.unit.serving.grpc_client import V2, Endpoint, fp32_request, shaped

MINUTE = 29_000_000  # a fixed minute since the epoch: the tests' clock
DECLARED = {"digits", "surface_line1"}
PIXELS = {"instances": np.ones((1, 28, 28, 1)).tolist()}


class Written:
    """The writer: keeps what it is given, or fails while `down`."""

    def __init__(self) -> None:
        self.batches: list[list[MinuteCount]] = []
        self.down = False

    def __call__(self, counts: list[MinuteCount]) -> int:
        if self.down:
            raise ConnectionError("Postgres is away")
        self.batches.append(counts)
        return len(counts)


def tally(written: Written, flush_s: float = 5.0) -> RequestTally:
    return RequestTally(
        written, DECLARED.__contains__, clock=lambda: MINUTE * 60 + 5.0, flush_s=flush_s
    )


def on_surface_line(request: pb.ModelInferRequest) -> pb.ModelInferRequest:
    request.model_name = "surface_line1"
    return request


def broken(batch: np.ndarray) -> np.ndarray:
    raise RuntimeError("the model's graph failed")


@pytest.fixture
def served() -> Iterator[tuple[Endpoint, RequestTally, Written]]:
    pool = ModelPool(get_settings().serving_root, {})
    pool.add(fake_model(), "production")
    failing = replace(fake_model(), workflow="surface_line1", batcher=Batcher(broken))
    pool.add(failing, "production")
    # one failed key per address and minute, then 429
    auth = Authenticator(None, limits=EndpointLimits(auth_failures_per_min=1))
    auth.add_static(KEYS["app"], Principal("app", grants={"digits": "production"}))
    auth.add_static(KEYS["none"], Principal("other", grants={"surface_line1": "production"}))
    written = Written()
    counting = tally(written, flush_s=3600.0)  # the tests flush, not the thread
    address = f"127.0.0.1:{free_port()}"
    app = create_app(
        pool, get_settings(), database_url=None, auth=auth, grpc_address=address,
        request_tally=counting,
    )  # fmt: skip
    # a failing model answers 500, as over the wire, rather than raising in the test
    with (
        TestClient(app, raise_server_exceptions=False) as http,
        grpc.insecure_channel(address) as channel,
    ):
        http.headers["Authorization"] = f"Bearer {KEYS['app']}"
        yield Endpoint(http, channel), counting, written


def test_inference_requests_count_by_outcome_and_nothing_else_does(served):
    endpoint, counting, written = served
    http = endpoint.http
    for _ in range(3):
        assert http.post("/v1/models/digits:predict", json=PIXELS).status_code == 200
    v2 = {"inputs": [{"name": "image", "shape": [1, 28, 28, 1], "datatype": "FP32",
                      "data": [1.0] * 784}]}  # fmt: skip
    assert http.post("/v2/models/digits/infer", json=v2).status_code == 200
    assert http.post("/v1/models/digits:predict", json={"instances": [[1]]}).status_code == 400
    assert http.post("/v1/models/digits:predict", content=b"{not json").status_code == 400
    assert http.post("/v1/models/digits/versions/7:predict", json=PIXELS).status_code == 404
    endpoint.infer(fp32_request())
    endpoint.refused(V2 + "ModelInfer", shaped([1, 3], b"\0" * 12))
    # a model that fails: 500 over HTTP, INTERNAL over gRPC
    other = {"Authorization": f"Bearer {KEYS['none']}"}
    failing = http.post("/v1/models/surface_line1:predict", json=PIXELS, headers=other)
    assert failing.status_code == 500
    failed = endpoint.refused(
        V2 + "ModelInfer",
        on_surface_line(fp32_request()),
        metadata=(("authorization", f"Bearer {KEYS['none']}"),),
    )
    assert failed.code() == grpc.StatusCode.INTERNAL
    # not the workflow's traffic: a wrong key (401, then 429 past the failed-key limit),
    # a key without the grant, another route, a name the fleet does not declare
    stranger = {"Authorization": "Bearer nope"}
    for status in (401, 429):
        got = http.post("/v1/models/digits:predict", json=PIXELS, headers=stranger)
        assert got.status_code == status
    assert http.post("/v1/models/surface_line1:predict", json=PIXELS).status_code == 403
    assert http.get("/v1/models/digits/metadata").status_code == 200
    assert http.post("/v1/models/elsewhere:predict", json=PIXELS).status_code in (403, 404)
    refused = endpoint.refused(
        V2 + "ModelInfer", fp32_request(), metadata=(("authorization", "Bearer nope"),)
    )
    assert refused.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.RESOURCE_EXHAUSTED)

    minute = datetime.fromtimestamp(MINUTE * 60, UTC)
    # digits answered: 3 TF Serving + 1 V2 + 1 gRPC; rejected: 2 bad bodies, 1 unknown
    # version, 1 bad gRPC tensor; surface_line1 failed: 1 over HTTP, 1 over gRPC
    expected = [
        MinuteCount("digits", minute, answered=5, rejected=4),
        MinuteCount("surface_line1", minute, failed=2),
    ]
    # A gRPC call is counted as its handler ends, which may be just after its client
    # saw the status: flush until every count is in (or give up after 5 s).
    deadline = time.monotonic() + 5
    while (got := merged(written)) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        counting.flush()
    assert got == expected


def merged(written: Written) -> list[MinuteCount]:
    """Every batch written so far, summed per (workflow, minute)."""
    sums: dict[tuple[str, datetime], list[int]] = {}
    for c in (c for batch in written.batches for c in batch):
        held = sums.setdefault((c.workflow, c.minute), [0, 0, 0])
        for i, n in enumerate((c.answered, c.rejected, c.failed)):
            held[i] += n
    return [MinuteCount(w, m, *counts) for (w, m), counts in sorted(sums.items())]


def test_statuses_map_to_outcomes():
    assert [outcome(s) for s in (200, 400, 404, 413, 429, 499, 500, 503)] == [
        0, 1, 1, 1, 1, 1, 2, 2,
    ]  # fmt: skip
    assert outcome(403) is None  # a caller without the grant is not the workflow's traffic


def test_one_write_per_flush_however_busy():
    """Counts keep arriving while a write is under way (steady traffic): the flush writes
    once and leaves them for the next, rather than writing back to back."""
    written = Written()
    counting = tally(written)

    def busy(counts: list[MinuteCount]) -> int:
        counting.count("digits", 200)  # a request answered during the write
        return written(counts)

    counting._writer = busy
    counting.count("digits", 200)
    counting.flush()
    assert len(written.batches) == 1 and counting.pending() == 1


def test_a_failed_write_keeps_the_counts_and_adds_later_ones_to_them():
    written = Written()
    counting = tally(written)
    counting.count("digits", 200)
    counting.count("digits", 500)
    written.down = True
    with pytest.raises(ConnectionError):
        counting.flush()
    counting.count("digits", 200)
    counting.count("surface_line1", 429)
    written.down = False
    counting.flush()
    minute = datetime.fromtimestamp(MINUTE * 60, UTC)
    assert sorted(written.batches[0], key=lambda c: c.workflow) == [
        MinuteCount("digits", minute, answered=2, failed=1),
        MinuteCount("surface_line1", minute, rejected=1),
    ]


def test_beyond_capacity_new_minutes_are_dropped_counted_and_said(caplog):
    written = Written()
    now = [MINUTE * 60.0]
    counting = RequestTally(written, DECLARED.__contains__, clock=lambda: now[0], capacity=2)
    for step in range(4):  # four minutes while Postgres is away; room for two
        now[0] = (MINUTE + step) * 60.0
        counting.count("digits", 200)
    now[0] = MINUTE * 60.0
    counting.count("digits", 500)  # a minute already held still counts
    assert counting.pending() == 2 and counting.dropped == 2
    counting.flush()
    assert [(c.answered, c.failed) for c in written.batches[0]] == [(1, 1), (1, 0)]
    assert "2 requests not counted so far" in caplog.text
