"""Smoke test of a fresh release against the live endpoint."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import httpx

from modelfleet.datasets.manifest import read_manifest
from modelfleet.errors import PlatformError
from modelfleet.naming import data_dir
from modelfleet.pipeline.context import RunContext
from modelfleet.registry.api_keys import auth_headers

SWITCH_TIMEOUT_S = 60.0
BATCH = 16


def wait_for_version(client: httpx.Client, workflow: str, version: str) -> None:
    """Block until the endpoint serves `version` as production (hot swap done)."""
    deadline = time.monotonic() + SWITCH_TIMEOUT_S
    seen = None
    while time.monotonic() < deadline:
        try:
            response = client.get(f"/v1/models/{workflow}")
            seen = response.headers.get("X-Model-Version")
            if response.status_code == 200 and seen == version:
                return
        except httpx.TransportError as exc:
            seen = f"unreachable ({exc})"
        time.sleep(0.1)  # the swap follows the alias within a second or two
    raise PlatformError(
        f"endpoint {client.base_url} did not switch {workflow} to {version} within "
        f"{SWITCH_TIMEOUT_S:.0f}s (it reports {seen})"
    )


def check_live_endpoint(
    ctx: RunContext, repo: Path, version: str, expected_accuracy: float
) -> dict[str, Any]:
    """Held-out images through `:predict`: right version, accuracy, latency."""
    root = repo / data_dir(ctx.workflow_name, "holdout")
    rows = [r for r in read_manifest(root) if r.decoded]
    classes = list(ctx.workflow.classes)
    correct, latencies = 0, []
    with httpx.Client(
        base_url=ctx.settings.endpoint_url, headers=auth_headers(ctx.settings), timeout=30
    ) as client:
        wait_for_version(client, ctx.workflow_name, version)
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            instances = [
                {"b64": base64.b64encode((root / r.path).read_bytes()).decode()} for r in chunk
            ]
            began = time.perf_counter()
            response = client.post(
                f"/v1/models/{ctx.workflow_name}:predict", json={"instances": instances}
            )
            latencies.append(time.perf_counter() - began)
            if response.status_code != 200:
                raise PlatformError(f"endpoint answered {response.status_code}: {response.text}")
            answered = response.headers.get("X-Model-Version")
            if answered != version:
                raise PlatformError(f"expected {version} to answer, but {answered} did")
            for row, probs in zip(chunk, response.json()["predictions"], strict=True):
                correct += classes[max(range(len(probs)), key=probs.__getitem__)] == row.label
    accuracy = correct / len(rows)
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    policy = ctx.workflow.smoke
    if accuracy < expected_accuracy - policy.accuracy_tolerance:
        raise PlatformError(
            f"live accuracy {accuracy:.3f} is more than {policy.accuracy_tolerance} below the "
            f"evaluated {expected_accuracy:.3f}"
        )
    if p95 > policy.max_p95_latency_s:
        raise PlatformError(f"p95 latency {p95:.3f}s exceeds {policy.max_p95_latency_s}s")
    return {
        "version": version,
        "n": len(rows),
        "accuracy": round(accuracy, 4),
        "p95_latency_s": round(p95, 4),
    }
