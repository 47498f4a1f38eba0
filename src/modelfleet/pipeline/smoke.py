"""Smoke test of a fresh release against the live endpoint."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from modelfleet.datasets.manifest import read_manifest
from modelfleet.endpoint_client import EndpointClient
from modelfleet.errors import PlatformError
from modelfleet.naming import data_dir
from modelfleet.pipeline.context import RunContext

SWITCH_TIMEOUT_S = 60.0
BATCH = 16
TIMEOUT_S = 30.0


def check_live_endpoint(
    ctx: RunContext, repo: Path, version: str, expected_accuracy: float
) -> dict[str, Any]:
    """Held-out images through `:predict`: right version, accuracy, latency."""
    root = repo / data_dir(ctx.workflow_name, "holdout")
    rows = [r for r in read_manifest(root) if r.decoded]
    classes = list(ctx.workflow.classes)
    correct, latencies = 0, []
    with EndpointClient.for_app(ctx.settings, timeout=TIMEOUT_S) as client:
        client.wait_for_version(ctx.workflow_name, version, SWITCH_TIMEOUT_S)
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            images = [(root / r.path).read_bytes() for r in chunk]
            began = time.perf_counter()
            reply = client.predict(ctx.workflow_name, images)
            latencies.append(time.perf_counter() - began)
            if reply.model_version != version:
                raise PlatformError(f"expected {version} to answer, but {reply.model_version} did")
            for row, probs in zip(chunk, reply.predictions, strict=True):
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
