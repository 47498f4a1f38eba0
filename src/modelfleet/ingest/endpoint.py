"""The prediction endpoint as the stream classifier uses it: V2 `infer` with BYTES
inputs, one request per batch, with the ingest application's key."""

from __future__ import annotations

from typing import Any

import httpx

from modelfleet.registry.api_keys import INGEST_APP, auth_headers
from modelfleet.serving.v2_client import answers, images_request
from modelfleet.settings import Settings


class EndpointUnavailable(Exception):
    """The endpoint cannot answer now; the files stay in landing and are retried."""


class Endpoint:
    """The prediction endpoint as the stream classifier uses it."""

    def __init__(self, settings: Settings) -> None:
        self.client = httpx.Client(
            base_url=settings.endpoint_url, headers=auth_headers(settings, INGEST_APP), timeout=60
        )
        self._classes: dict[tuple[str, str], list[str]] = {}

    def classify(self, workflow: str, images: list[bytes]) -> list[dict[str, Any]]:
        """One request for the batch: [{label, score, scores, model_version}] per image."""
        reply = self._send(
            "POST", f"/v2/models/{workflow}/infer", json=images_request(images)
        ).json()
        version = reply["model_version"]
        return [
            {**answer, "model_version": version}
            for answer in answers(reply, self._classes_of(workflow, version))
        ]

    def _classes_of(self, workflow: str, version: str) -> list[str]:
        key = (workflow, version)
        if key not in self._classes:
            meta = self._send("GET", f"/v2/models/{workflow}/versions/{version}").json()
            self._classes[key] = meta["parameters"]["classes"]
        return self._classes[key]

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise EndpointUnavailable(f"endpoint unreachable: {exc}") from None
        if response.status_code >= 500 or response.status_code in (401, 403, 404):
            # Down, not ready, or misconfigured keys: the files are fine; wait.
            raise EndpointUnavailable(
                f"endpoint answered {response.status_code}: {response.text[:300]}"
            )
        if response.status_code >= 400:
            raise ValueError(response.json().get("error", response.text))
        return response
