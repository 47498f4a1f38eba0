"""`modelfleet serve --workers 2` on the real registry: both worker processes answer,
both listen on the one gRPC port, /metrics adds up the requests of both, a promotion
under HTTP and gRPC load reaches both with no failed request, and SIGTERM stops them
all."""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
from collections.abc import Iterator

import grpc
import httpx
import psutil
import pytest

from modelfleet.host.ports import free_port, listening
from modelfleet.serving.grpc import grpc_predict_v2_pb2 as pb
from modelfleet.serving.v2_tensors import pack_bytes
from tests.integration.conftest import (
    BIN,
    Platform,
    all_versions,
    eventually,
    frozen_test_image,
    promote,
    under_load,
    wait_http,
)
from tests.integration.test_retrain_dag import production

pytestmark = [pytest.mark.integration, pytest.mark.slow]
WORKERS = 2
PREDICT = "/v1/models/digits:predict"


class Answer:
    """A gRPC answer as under_load records an HTTP one."""

    def __init__(self, status_code: int, version: str | None) -> None:
        self.status_code = status_code
        self.headers = {"X-Model-Version": version}


class TwoWorkers:
    def __init__(
        self, platform: Platform, process: subprocess.Popen, url: str, grpc_port: int
    ) -> None:
        self.platform = platform
        self.process = process
        self.url = url
        self.grpc_port = grpc_port

    def infer_grpc(self) -> Answer:
        """ModelInfer on a new channel (either worker may answer); 500 for any failure."""
        request = pb.ModelInferRequest(model_name="digits")
        request.inputs.add(name="encoded_image", datatype="BYTES", shape=[1])
        request.raw_input_contents.append(pack_bytes([frozen_test_image()]))
        key = self.platform.admin_headers["Authorization"]
        with grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}") as channel:
            call = channel.unary_unary(
                "/inference.GRPCInferenceService/ModelInfer",
                request_serializer=pb.ModelInferRequest.SerializeToString,
                response_deserializer=pb.ModelInferResponse.FromString,
            )
            try:
                reply = call(request, metadata=(("authorization", key),), timeout=30)
            except grpc.RpcError as error:
                return Answer(500, str(error.code()))
        return Answer(200, reply.model_version)

    def health(self) -> dict:
        """/healthz on a new connection, so that either worker may answer."""
        return httpx.get(f"{self.url}/healthz", timeout=10).json()

    def predict(self) -> httpx.Response:
        body = {"instances": [{"b64": base64.b64encode(frozen_test_image()).decode()}]}
        return httpx.post(
            f"{self.url}{PREDICT}", json=body, headers=self.platform.admin_headers, timeout=30
        )

    def child_pids(self) -> set[int]:
        """The workers, and multiprocessing's resource tracker."""
        children = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout.split()
        return {int(pid) for pid in children}


@pytest.fixture(scope="module")
def endpoint(served: Platform) -> Iterator[TwoWorkers]:
    port, grpc_port = free_port(), free_port()
    log_path = served.home / "endpoint-workers.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(BIN / "modelfleet"), "serve", "--port", str(port), "--workers", str(WORKERS)],
            env={**os.environ, "MODELFLEET_GRPC_PORT": str(grpc_port)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed whole below
        )
    running = TwoWorkers(served, process, f"http://127.0.0.1:{port}", grpc_port)
    try:
        wait_http(f"{running.url}/healthz", process, log_path)
        current = production(served)

        def every_worker_ready() -> bool:
            answers = [running.health() for _ in range(20)]
            ready = {
                a["pid"] for a in answers if a["ready"] and current in a["loaded"].get("digits", [])
            }
            return len(ready) == WORKERS

        assert eventually(every_worker_ready, 120), log_path.read_text()[-3000:]
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def requests_total(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    pattern = (
        r'modelfleet_requests_total\{model="digits",protocol="tfserving",status="200",[^}]*\} (\S+)'
    )
    return sum(float(value) for value in re.findall(pattern, text))


def test_both_workers_answer_and_metrics_count_both(endpoint):
    answered_by = {endpoint.health()["pid"] for _ in range(30)}
    assert len(answered_by) == WORKERS  # the kernel spread new connections over both
    assert answered_by <= endpoint.child_pids()
    before = requests_total(endpoint.url)
    responses = [endpoint.predict() for _ in range(40)]
    assert [r.status_code for r in responses] == [200] * 40
    assert {r.headers["X-Model-Version"] for r in responses} == {production(endpoint.platform)}
    assert requests_total(endpoint.url) - before == 40  # whichever worker was scraped


def test_every_worker_listens_on_the_grpc_port_and_answers(endpoint):
    listeners = {
        pid
        for pid in endpoint.child_pids()
        for connection in psutil.Process(pid).net_connections("tcp")
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == endpoint.grpc_port
    }
    assert len(listeners) == WORKERS  # each its own SO_REUSEPORT socket
    answers = [endpoint.infer_grpc() for _ in range(20)]
    assert {(a.status_code, a.headers["X-Model-Version"]) for a in answers} == {
        (200, production(endpoint.platform))
    }


def test_a_promotion_under_load_reaches_every_worker_and_fails_no_request(endpoint):
    platform = endpoint.platform
    original = production(platform)
    target = next(v for v in all_versions(platform) if v != original)
    try:  # a new connection per request: both workers get traffic
        with (
            under_load(endpoint.predict) as seen,
            under_load(endpoint.infer_grpc, clients=2) as seen_grpc,  # type: ignore[arg-type]
        ):
            reason = "promotion through two workers"
            promoted = promote(platform, endpoint.url, target, reason)
            assert promoted.status_code == 200, promoted.text
            assert eventually(lambda: all(v == target for _, v in seen[-30:]), 60)
            assert eventually(lambda: all(v == target for _, v in seen_grpc[-10:]), 60)
    finally:
        restore = promote(platform, endpoint.url, original, "test restores production")
    assert restore.status_code == 200, restore.text
    for answers in (seen, seen_grpc):
        failures = [s for s in answers if s[0] != 200]
        assert not failures, failures[:5]
        assert {v for _, v in answers} <= {original, target}
    assert all(v == target for _, v in seen[-30:])
    assert all(v == target for _, v in seen_grpc[-10:])


def test_sigterm_stops_every_worker(endpoint):
    pids = endpoint.child_pids()
    port = httpx.URL(endpoint.url).port
    endpoint.process.send_signal(signal.SIGTERM)
    assert endpoint.process.wait(30) == 0
    assert eventually(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in pids), 10)
    assert not listening(port)
