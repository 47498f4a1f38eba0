"""The endpoint client over a stand-in endpoint (`httpx.MockTransport`): the V2 and V1
calls the platform makes, and what each kind of failure becomes."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from modelfleet.endpoint_client import (
    EndpointClient,
    EndpointError,
    EndpointRefused,
    EndpointUnavailable,
)
from modelfleet.errors import PlatformError

CLASSES = ["cat", "dog"]


def endpoint(handler) -> EndpointClient:  # type: ignore[no-untyped-def]
    return EndpointClient(
        "http://endpoint", api_key="k", timeout=5, transport=httpx.MockTransport(handler)
    )


def v2(requests: list[httpx.Request], version: str = "v1.2.0"):  # type: ignore[no-untyped-def]
    """An endpoint that answers `version` with dog for images starting b"d", else cat;
    and refuses (400) any image that starts b"x"."""

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        assert request.headers["Authorization"] == "Bearer k"
        if request.method == "GET":
            return httpx.Response(200, json={"parameters": {"classes": CLASSES}})
        images = [base64.b64decode(d) for d in json.loads(request.content)["inputs"][0]["data"]]
        if any(i.startswith(b"x") for i in images):
            return httpx.Response(400, json={"error": "input 0: not an image"})
        flat = [p for i in images for p in ((0.1, 0.9) if i.startswith(b"d") else (0.8, 0.2))]
        return httpx.Response(200, json={"model_version": version, "outputs": [{"data": flat}]})

    return handler


def test_infer_ranks_every_image_and_asks_the_classes_once():
    requests: list[httpx.Request] = []
    with endpoint(v2(requests)) as client:
        first = client.infer("pets", [b"dog photo", b"cat photo"])
        second = client.infer("pets", [b"cat"])
    assert [(a.label, a.score, a.model_version) for a in first] == [
        ("dog", 0.9, "v1.2.0"),
        ("cat", 0.8, "v1.2.0"),
    ]
    assert first[0].scores == {"cat": 0.1, "dog": 0.9}
    assert second[0].label == "cat"
    paths = [(r.method, r.url.path) for r in requests]
    assert paths == [
        ("POST", "/v2/models/pets/infer"),
        ("GET", "/v2/models/pets/versions/v1.2.0"),
        ("POST", "/v2/models/pets/infer"),
    ]


def test_infer_at_a_version_refuses_an_answer_from_another():
    requests: list[httpx.Request] = []
    client = endpoint(v2(requests, version="v1.3.0"))
    with client, pytest.raises(EndpointError, match=r"asked pets v1\.2\.0, answered by v1\.3\.0"):
        client.infer("pets", [b"dog"], version="v1.2.0")
    assert requests[0].url.path == "/v2/models/pets/versions/v1.2.0/infer"


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, EndpointRefused), (413, EndpointRefused), (401, EndpointUnavailable),
     (404, EndpointUnavailable), (503, EndpointUnavailable)],
)  # fmt: skip
def test_each_failure_is_one_of_the_clients_exceptions(status, kind):
    client = endpoint(lambda _: httpx.Response(status, json={"error": "why not"}))
    with client, pytest.raises(kind) as raised:
        client.infer("pets", [b"cat"])
    assert raised.value.status_code == status and raised.value.detail == "why not"
    assert isinstance(raised.value, PlatformError)
    assert f"with {status}: why not" in str(raised.value)


def test_an_unreachable_endpoint_is_unavailable_with_no_status():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with endpoint(refuse) as client:
        with pytest.raises(EndpointUnavailable, match="unreachable") as raised:
            client.predict("pets", [b"cat"])
        assert client.is_ready("pets") is False
    assert raised.value.status_code == 0


def test_a_reply_that_is_not_v2_is_unavailable_not_a_crash():
    client = endpoint(lambda _: httpx.Response(200, text="<html>proxy</html>"))
    with client, pytest.raises(EndpointUnavailable, match="no V2 reply"):
        client.infer("pets", [b"cat"])


def test_v1_predict_and_classify_report_the_version_that_answered():
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"X-Model-Version": "v2.0.0"}
        if request.url.path.endswith(":predict"):
            instances = json.loads(request.content)["instances"]
            assert base64.b64decode(instances[0]["b64"]) == b"img"
            return httpx.Response(200, json={"predictions": [[0.3, 0.7]]}, headers=headers)
        assert request.url.path == "/v1/models/pets:classify"
        assert b'filename="frame.png"' in request.content
        return httpx.Response(200, headers=headers)

    with endpoint(handler) as client:
        predicted = client.predict("pets", [b"img"])
        reply = client.classify_file("pets", "frame.png", b"img")
    assert predicted.model_version == "v2.0.0" and predicted.predictions == [[0.3, 0.7]]
    assert (reply.status_code, reply.model_version) == (200, "v2.0.0")


def test_waits_end_when_the_version_is_there_or_name_what_was_seen():
    seen = iter([503, 503, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/ready"):
            return httpx.Response(next(seen), text="loading")
        return httpx.Response(200, headers={"X-Model-Version": "v1.0.0"})

    with endpoint(handler) as client:
        assert client.wait_ready("pets", "v1.1.0", timeout_s=5, poll_s=0.01) >= 0
        client.wait_for_version("pets", "v1.0.0", timeout_s=5)
        with pytest.raises(EndpointError, match=r"did not switch pets to v1.1.0 .* v1.0.0"):
            client.wait_for_version("pets", "v1.1.0", timeout_s=0.2)
