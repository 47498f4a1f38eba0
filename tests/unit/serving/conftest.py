"""The endpoint app in-process with a stand-in model (numpy, no TensorFlow): routes,
auth, decoding and error mapping are real; the integration tests serve real models."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from modelfleet.serving.app import create_app
from modelfleet.serving.auth import Authenticator, Principal
from modelfleet.serving.batching import Batcher
from modelfleet.serving.pool import LoadedModel, ModelPool
from modelfleet.settings import get_settings

SHAPE = (28, 28, 1)
CLASSES = [str(d) for d in range(10)]
KEYS = {"app": "mf-test-app", "admin": "mf-test-admin", "none": "mf-test-none"}


def fake_model(version: str = "v1.0.0", version_int: int = 1_000_000) -> LoadedModel:
    def infer(batch: np.ndarray) -> np.ndarray:
        # Deterministic "probabilities": class = round(mean pixel * 9).
        out = np.zeros((len(batch), len(CLASSES)), dtype=np.float32)
        out[
            np.arange(len(batch)),
            np.clip(np.rint(batch.mean(axis=(1, 2, 3)) * 9), 0, 9).astype(int),
        ] = 1
        return out

    return LoadedModel(
        workflow="digits",
        version=version,
        version_int=version_int,
        classes=CLASSES,
        input_shape=SHAPE,
        input_name="image",
        output_name="output_0",
        batcher=Batcher(infer, max_batch=8, max_wait_s=0.0),
    )


@pytest.fixture
def client() -> Iterator[TestClient]:
    pool = ModelPool(get_settings().serving_root, {})
    pool.add(fake_model(), "production")
    pool.add(fake_model("v0.9.0", 9_000), "candidate")
    auth = Authenticator(None)
    auth.add_static(KEYS["app"], Principal("app", grants={"digits": "production"}))
    auth.add_static(KEYS["admin"], Principal("ops", admin=True))
    auth.add_static(KEYS["none"], Principal("other", grants={"surface_line1": "production"}))
    with TestClient(create_app(pool, get_settings(), database_url=None, auth=auth)) as test:
        test.headers["Authorization"] = f"Bearer {KEYS['app']}"
        test.pool = pool  # type: ignore[attr-defined]  # tests add versions to it
        yield test
