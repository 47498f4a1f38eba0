"""gRPC shares the worker's batcher with HTTP, and gRPC's own cap on calls in flight:
concurrent one-row calls over both protocols reach the model as shared batches, and
calls beyond `max_connections` in flight are RESOURCE_EXHAUSTED while the rest answer
(stand-in model whose inference takes a while; real gRPC channel, real app)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import grpc
import numpy as np
import pytest
from fastapi.testclient import TestClient

from modelfleet.host.ports import free_port
from modelfleet.serving.app import create_app
from modelfleet.serving.auth import Authenticator, Principal
from modelfleet.serving.batching import Batcher
from modelfleet.serving.pool import ModelPool
from modelfleet.settings import EndpointLimits, get_settings
from tests.unit.serving.conftest import CLASSES, KEYS, fake_model
from tests.unit.serving.grpc_client import Endpoint, fp32_request

# gRPC's rows are all 1.0, HTTP's all 0.5: a batch's rows say which protocol sent them
PIXELS = {"instances": np.full((1, 28, 28, 1), 0.5).tolist()}


class SlowModel:
    """Answers after `seconds`, and remembers each batch's rows by their mean pixel."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.batches: list[list[float]] = []
        self._lock = threading.Lock()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            self.batches.append(batch.mean(axis=(1, 2, 3)).round(3).tolist())
        time.sleep(self.seconds)
        out = np.zeros((len(batch), len(CLASSES)), dtype=np.float32)
        out[:, 0] = 1
        return out


def serve(model: SlowModel, limits: EndpointLimits, max_wait_s: float) -> Iterator[Endpoint]:
    pool = ModelPool(get_settings().serving_root, {})
    batcher = Batcher(model, max_batch=16, max_wait_s=max_wait_s)
    pool.add(replace(fake_model(), batcher=batcher), "production")
    auth = Authenticator(None, limits=limits)
    auth.add_static(KEYS["app"], Principal("app", grants={"digits": "production"}))
    address = f"127.0.0.1:{free_port()}"
    app = create_app(
        pool, get_settings(), database_url=None, auth=auth, grpc_address=address, limits=limits
    )
    with TestClient(app) as http, grpc.insecure_channel(address) as channel:
        http.headers["Authorization"] = f"Bearer {KEYS['app']}"
        yield Endpoint(http, channel)


@pytest.fixture
def batching() -> Iterator[tuple[Endpoint, SlowModel]]:
    model = SlowModel(0.2)
    # a batch runs when it holds 16 rows, or 5 s after its first: the test's 16 concurrent
    # calls meet in one batch however slowly a loaded machine sends them
    for endpoint in serve(model, EndpointLimits(), max_wait_s=5.0):
        yield endpoint, model


@pytest.fixture
def capped() -> Iterator[Endpoint]:
    yield from serve(SlowModel(1.0), EndpointLimits(max_connections=2), max_wait_s=0.05)


def test_grpc_and_http_calls_share_the_workers_batches(batching):
    endpoint, model = batching

    def grpc_call(_: int) -> str:
        endpoint.infer(fp32_request(np.ones((1, 28, 28, 1), dtype="<f4")))
        return "grpc"

    def http_call(_: int) -> str:
        assert endpoint.http.post("/v1/models/digits:predict", json=PIXELS).status_code == 200
        return "http"

    with ThreadPoolExecutor(16) as pool:
        calls = [pool.submit(grpc_call, i) for i in range(8)]
        calls += [pool.submit(http_call, i) for i in range(8)]
        done = sorted(call.result() for call in calls)
    assert done == ["grpc"] * 8 + ["http"] * 8
    rows = [row for batch in model.batches for row in batch]
    assert sorted(rows) == [0.5] * 8 + [1.0] * 8  # every row answered once
    assert any({0.5, 1.0} <= set(batch) for batch in model.batches), model.batches


def test_calls_beyond_the_cap_in_flight_are_resource_exhausted(capped):
    def call(_: int) -> grpc.StatusCode:
        try:
            capped.infer(fp32_request(np.ones((1, 28, 28, 1), dtype="<f4")))
        except grpc.RpcError as exc:
            return exc.code()
        return grpc.StatusCode.OK

    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(call, range(6)))
    assert codes.count(grpc.StatusCode.OK) >= 2  # the cap's worth answer
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) >= 1, codes
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}, codes
