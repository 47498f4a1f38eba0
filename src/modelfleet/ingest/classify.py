"""Classify a batch of landed files at the endpoint, finding the files it refuses.

Files go to the endpoint in one V2 `infer` request per batch (BYTES), with the ingest
application's key and pin. When the endpoint refuses the batch (a 4xx: one image it
cannot decode spoils the request), each file is sent alone, so that only the files it
refuses are quarantined and the others are classified.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from modelfleet.endpoint_client import Answer, EndpointClient, EndpointRefused
from modelfleet.ingest.scan import Landed


@dataclass(frozen=True)
class Classified:
    """Files and their answers, in order."""

    items: list[Landed]
    answers: list[Answer]


@dataclass(frozen=True)
class Refused:
    """A file the endpoint refuses, and its words."""

    item: Landed
    detail: str


def classify(
    endpoint: EndpointClient, workflow: str, items: list[Landed]
) -> Iterator[Classified | Refused]:
    """The verdicts on `items`, as they come: one for the batch, or one per file once the
    endpoint refuses the batch. Raises `EndpointUnavailable` when it cannot answer: the
    files not yet given a verdict wait in landing."""
    try:
        answers = endpoint.infer(
            workflow, [i.data for i in items], stream_sha256=[i.file.sha256 for i in items]
        )
    except EndpointRefused:
        pass
    else:
        yield Classified(items, answers)
        return
    for item in items:
        try:
            answers = endpoint.infer(workflow, [item.data], stream_sha256=[item.file.sha256])
        except EndpointRefused as exc:
            yield Refused(item, exc.detail)
            continue
        yield Classified([item], answers)
