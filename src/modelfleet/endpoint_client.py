"""The one client of the prediction endpoint: every call the platform makes to it.

The stream classifier, reclassify, a release's smoke test and the year's load all talk
to the endpoint through `EndpointClient` (httpx), each with its own application's key:

    V2  infer(workflow, images, version=None)  encoded images in, ranked answers out
        is_ready / wait_ready                  a version loaded (V2 readiness)
    V1  predict(workflow, images)              `:predict` with base64 instances
        classify_file(workflow, name, data)    `:classify` with an uploaded image
        wait_for_version(workflow, version)    the hot swap to a production version done

Every failure is one of these exceptions (all `PlatformError`: a caller that stops on
any platform failure needs nothing new):

    PlatformError
    └── EndpointError            the endpoint did not answer as asked
        ├── EndpointUnavailable  unreachable, 5xx, or 401/403/404: not the request's
        │                        fault (down, not ready, keys not synced yet); try later
        └── EndpointRefused      any other 4xx: the endpoint refuses this request

`status_code` on each says what the endpoint answered (0: no HTTP answer at all) and
`detail` the endpoint's own words (its JSON `error`).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from modelfleet.errors import PlatformError
from modelfleet.registry.api_keys import ADMIN_APP, api_key
from modelfleet.settings import Settings

__all__ = [
    "Answer",
    "EndpointClient",
    "EndpointError",
    "EndpointRefused",
    "EndpointUnavailable",
    "Predictions",
    "Reply",
]

# What endpoint answers mean "not now" rather than "not this request": down or
# restarting (5xx), keys not synced yet (401/403), a workflow not loaded yet (404).
_UNAVAILABLE = (401, 403, 404)
_QUOTED = 300  # characters of a reply quoted in an error message
# The stream names itself and its images to the endpoint's prediction log (lower case:
# as ASGI hands headers over).
SOURCE_HEADER = "x-modelfleet-source"
SHA256_HEADER = "x-image-sha256"  # comma-separated, one per image in request order


class EndpointError(PlatformError):
    """The endpoint did not answer as asked."""

    def __init__(self, message: str, *, status_code: int = 0, detail: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code  # 0: no HTTP answer at all
        self.detail = detail or message  # the endpoint's own words where it gave some


class EndpointUnavailable(EndpointError):
    """The endpoint cannot answer now; the same request may succeed later."""


class EndpointRefused(EndpointError):
    """The endpoint refuses this request (a 4xx other than 401/403/404)."""


@dataclass(frozen=True)
class Answer:
    """One image's classification: the best label, its score, every class's score."""

    label: str
    score: float
    scores: dict[str, float]
    model_version: str


@dataclass(frozen=True)
class Predictions:
    """A V1 `:predict` reply: the version that answered and one row per instance."""

    model_version: str | None
    predictions: list[Any]


@dataclass(frozen=True)
class Reply:
    """A successful answer as it came (for callers that measure rather than read)."""

    status_code: int
    model_version: str | None
    content: bytes


def images_request(images: list[bytes]) -> dict[str, Any]:
    """A V2 infer body: one BYTES tensor of encoded images, asking for probabilities."""
    return {
        "inputs": [
            {
                "name": "encoded_image",
                "shape": [len(images)],
                "datatype": "BYTES",
                "data": [base64.b64encode(i).decode() for i in images],
            }
        ],
        "outputs": [{"name": "probabilities"}],
    }


def ranked(flat: list[float], classes: list[str], version: str) -> list[Answer]:
    """One `Answer` per image of a V2 reply's flat probabilities."""
    out = []
    for start in range(0, len(flat), len(classes)):
        probs = flat[start : start + len(classes)]
        best = max(range(len(classes)), key=probs.__getitem__)
        out.append(
            Answer(classes[best], probs[best], dict(zip(classes, probs, strict=True)), version)
        )
    return out


class EndpointClient:
    """The prediction endpoint over HTTP. Thread-safe: one client serves many threads."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`transport` replaces the network (tests pass an `httpx.MockTransport`)."""
        sent = dict(headers or {})
        if api_key is not None:
            sent["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            base_url=base_url, headers=sent, timeout=timeout, transport=transport
        )
        self._classes: dict[tuple[str, str], list[str]] = {}

    @classmethod
    def for_app(
        cls, settings: Settings, app: str = ADMIN_APP, *, timeout: float = 60.0
    ) -> EndpointClient:
        """The endpoint of `settings`, as the platform application `app`."""
        return cls(settings.endpoint_url, api_key=api_key(settings, app), timeout=timeout)

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EndpointClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # V2 (Open Inference Protocol)

    def infer(
        self,
        workflow: str,
        images: list[bytes],
        *,
        version: str | None = None,
        stream_sha256: list[str] | None = None,
    ) -> list[Answer]:
        """One request for the batch, an `Answer` per image. With `version`, that version
        answers or this raises: a caller never records an answer under the wrong one.
        With `stream_sha256` (the images' hashes) the endpoint's prediction log records
        them as the stream's, with their hashes: logged once, where the stream asked."""
        path = f"{_v2_path(workflow, version)}/infer"
        headers = None
        if stream_sha256 is not None:
            headers = {SOURCE_HEADER: "stream", SHA256_HEADER: ",".join(stream_sha256)}
        response = self._send("POST", path, json=images_request(images), headers=headers)
        try:
            reply = response.json()
            answered, flat = reply["model_version"], reply["outputs"][0]["data"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise EndpointUnavailable(
                f"endpoint answered POST {path} with {response.status_code} but no V2 reply: "
                f"{response.text[:_QUOTED]}",
                status_code=response.status_code,
            ) from None
        if version is not None and answered != version:
            raise EndpointError(f"asked {workflow} {version}, answered by {answered}")
        return ranked(flat, self.classes(workflow, answered), answered)

    def classes(self, workflow: str, version: str) -> list[str]:
        """The class names of one version, in output order (asked once per version)."""
        key = (workflow, version)
        if key not in self._classes:
            meta = self._send("GET", _v2_path(workflow, version)).json()
            self._classes[key] = list(meta["parameters"]["classes"])
        return self._classes[key]

    def is_ready(self, workflow: str, version: str | None = None) -> bool:
        """Whether `version` (else the caller's pin) of `workflow` is loaded and answers."""
        return self._ready(workflow, version) is None

    def wait_ready(
        self, workflow: str, version: str, timeout_s: float, poll_s: float = 0.5
    ) -> float:
        """Block until `version` of `workflow` is ready; returns the seconds it took."""
        began = time.monotonic()
        seen = "no answer yet"
        while time.monotonic() - began < timeout_s:
            problem = self._ready(workflow, version)
            if problem is None:
                return time.monotonic() - began
            seen = problem
            time.sleep(poll_s)
        raise EndpointUnavailable(
            f"endpoint {self.base_url} did not load {workflow} {version} within "
            f"{timeout_s:.0f}s (last answer: {seen}); the endpoint log says why"
        )

    def _ready(self, workflow: str, version: str | None) -> str | None:
        """None when ready, else what the endpoint answered."""
        try:
            response = self._http.get(f"{_v2_path(workflow, version)}/ready")
        except httpx.HTTPError as exc:
            return f"unreachable ({exc})"
        if response.status_code == 200:
            return None
        return f"{response.status_code}: {response.text[:_QUOTED]}"

    # V1 (TF Serving REST)

    def predict(self, workflow: str, images: list[bytes]) -> Predictions:
        """`:predict` of the caller's pin with base64-encoded images."""
        instances = [{"b64": base64.b64encode(data).decode()} for data in images]
        response = self._send(
            "POST", f"/v1/models/{workflow}:predict", json={"instances": instances}
        )
        return Predictions(response.headers.get("X-Model-Version"), response.json()["predictions"])

    def classify_file(
        self, workflow: str, filename: str, data: bytes, content_type: str = "image/png"
    ) -> Reply:
        """`:classify` of an uploaded image, as an application sends one."""
        response = self._send(
            "POST",
            f"/v1/models/{workflow}:classify",
            files={"file": (filename, data, content_type)},
        )
        return Reply(
            response.status_code, response.headers.get("X-Model-Version"), response.content
        )

    def wait_for_version(self, workflow: str, version: str, timeout_s: float = 60.0) -> None:
        """Block until the endpoint serves `version` of `workflow` to the caller's pin
        (a hot swap done)."""
        deadline = time.monotonic() + timeout_s
        seen = None
        while time.monotonic() < deadline:
            try:
                response = self._http.get(f"/v1/models/{workflow}")
                seen = response.headers.get("X-Model-Version")
                if response.status_code == 200 and seen == version:
                    return
            except httpx.HTTPError as exc:
                seen = f"unreachable ({exc})"
            time.sleep(0.1)  # the swap follows the alias within a second or two
        raise EndpointError(
            f"endpoint {self.base_url} did not switch {workflow} to {version} within "
            f"{timeout_s:.0f}s (it reports {seen})"
        )

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise EndpointUnavailable(
                f"endpoint {self.base_url} unreachable: {type(exc).__name__}: {exc}"
            ) from None
        status = response.status_code
        if status < 400:
            return response
        detail = _error_of(response)
        message = f"endpoint answered {method} {path} with {status}: {detail[:_QUOTED]}"
        if status >= 500 or status in _UNAVAILABLE:
            raise EndpointUnavailable(message, status_code=status, detail=detail)
        raise EndpointRefused(message, status_code=status, detail=detail)


def _v2_path(workflow: str, version: str | None) -> str:
    return f"/v2/models/{workflow}" + (f"/versions/{version}" if version else "")


def _error_of(response: httpx.Response) -> str:
    """The endpoint's JSON `error`, else the reply's text."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"]
    return response.text
