"""A batch the endpoint refuses is sent again file by file, so that only the files it
refuses are quarantined; an endpoint that cannot answer leaves the rest waiting."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from modelfleet.endpoint_client import EndpointClient, EndpointUnavailable
from modelfleet.ingest.classify import Classified, Refused, classify
from modelfleet.ingest.landing import Entry, FileIdentity, LandedFile
from modelfleet.ingest.scan import Landed


def landed(data: bytes) -> Landed:
    entry = Entry(data[:8], regular=True)
    file = LandedFile(entry, data.hex(), len(data), FileIdentity(0, 0, len(data), 0), data)
    return Landed(file, folder=None)  # type: ignore[arg-type]


def endpoint(sent: list[int], down_after: int = 99) -> EndpointClient:
    """Refuses any request holding b"bad..."; down (503) from request `down_after` on."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"parameters": {"classes": ["a", "b"]}})
        data = [base64.b64decode(d) for d in json.loads(request.content)["inputs"][0]["data"]]
        sent.append(len(data))
        if len(sent) > down_after:
            return httpx.Response(503, json={"error": "restarting"})
        if any(d.startswith(b"bad") for d in data):
            return httpx.Response(400, json={"error": "cannot decode"})
        body: dict[str, Any] = {
            "model_version": "v1.0.0",
            "outputs": [{"data": [0.4, 0.6] * len(data)}],
        }
        return httpx.Response(200, json=body)

    return EndpointClient("http://e", transport=httpx.MockTransport(handler))


def test_one_request_for_a_good_batch():
    sent: list[int] = []
    items = [landed(b"good one"), landed(b"good two")]
    verdicts = list(classify(endpoint(sent), "wf", items))
    assert sent == [2]
    assert len(verdicts) == 1 and isinstance(verdicts[0], Classified)
    assert verdicts[0].items == items and [a.label for a in verdicts[0].answers] == ["b", "b"]


def test_a_refused_batch_is_sent_file_by_file():
    sent: list[int] = []
    items = [landed(b"good one"), landed(b"bad file"), landed(b"good two")]
    verdicts = list(classify(endpoint(sent), "wf", items))
    assert sent == [3, 1, 1, 1]
    assert [type(v).__name__ for v in verdicts] == ["Classified", "Refused", "Classified"]
    refused = verdicts[1]
    assert isinstance(refused, Refused)
    assert refused.item is items[1] and refused.detail == "cannot decode"


def test_an_endpoint_going_down_stops_the_verdicts_for_the_rest():
    sent: list[int] = []
    items = [landed(b"bad file"), landed(b"good one"), landed(b"good two")]
    verdicts = classify(endpoint(sent, down_after=2), "wf", items)
    assert isinstance(next(verdicts), Refused)
    with pytest.raises(EndpointUnavailable):
        next(verdicts)
