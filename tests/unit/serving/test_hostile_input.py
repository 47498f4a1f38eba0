"""Hostile input through the endpoint app (stand-in model): every number from the URL or
the body is bounded, every pixel is a finite number in range, a declared workflow with
nothing deployed is a 404, overload says when to come back, and the OpenAPI document
lists every status an operation answers."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from modelfleet.config import ServingPolicy
from modelfleet.serving.app import create_app
from modelfleet.serving.auth import Authenticator, Principal
from modelfleet.serving.batching import Batcher
from modelfleet.serving.pool import ModelPool
from modelfleet.settings import get_settings
from tests.unit.serving.conftest import KEYS, fake_model

ZEROS = [[[0.0]] * 28] * 28
HUGE = "9" * 5000  # more digits than int() takes from a string (4300)


def with_leaf(leaf: object, at: tuple[int, int] = (3, 4)) -> list:
    """A 28x28x1 image of zeros with one leaf replaced."""
    image = [[[0.0] for _ in range(28)] for _ in range(28)]
    image[at[0]][at[1]] = [leaf]
    return image


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/models/digits/versions/{HUGE}:predict",
        f"/v1/models/digits/versions/v{HUGE}.0.0:predict",
        f"/v1/models/digits/versions/v1.0.{HUGE}:predict",
        f"/v2/models/digits/versions/{HUGE}/infer",
    ],
    ids=["integer", "major", "patch", "v2"],
)
def test_a_version_of_thousands_of_digits_is_a_short_404(client, path):
    body = {"instances": [ZEROS]}
    if path.startswith("/v2"):
        body = {
            "inputs": [
                {"name": "x", "shape": [1, 28, 28, 1], "datatype": "FP32", "data": [0] * 784}
            ]
        }
    response = client.post(path, json=body)
    assert response.status_code == 404, response.text
    assert "neither an integer nor vX.Y.Z" in response.json()["error"]
    assert len(response.text) < 300  # the input is not echoed whole


def test_top_k_of_thousands_of_digits_is_a_400(client):
    from tests.unit.serving.test_endpoint_contract import image

    response = client.post(
        f"/v1/models/digits:classify?top_k={HUGE}", files={"file": ("x.png", image("L"))}
    )
    assert response.status_code == 400
    assert "top_k must be an integer from 1 to 999999" in response.json()["error"]


@pytest.mark.parametrize(
    "shape",
    [[10**30, 28, 28, 1], [True, 28, 28, 1], [1, 28, 28, 1, 1, 1, 1, 1, 1], [-1, 28, 28, 1]],
    ids=["huge", "boolean", "nine dims", "negative"],
)
def test_a_v2_shape_out_of_bounds_is_a_400(client, shape):
    body = {"inputs": [{"name": "x", "shape": shape, "datatype": "FP32", "data": [0] * 784}]}
    response = client.post("/v2/models/digits/infer", json=body)
    assert response.status_code == 400, response.text
    assert "'shape' must be a list of 1 to 8 integers" in response.json()["error"]


LEAVES = {
    "true": (True, "true is a boolean, not a number"),
    "false": (False, "false is a boolean, not a number"),
    "NaN as a string": ("NaN", "'NaN' is a string, not a number"),
    "a numeric string": ("0.5", "'0.5' is a string, not a number"),
    "null": (None, "null is not a number"),
    "3e38 (overflows inside the model)": (3e38, "3e+38 is outside ±1e+06"),
    "-1e39 (beyond float32)": (-1e39, "-1e+39 is outside ±1e+06"),
    "2^64 (a float to JSON)": (2**64, "is outside ±1e+06"),
    "an object": ({"v": 1}, "is an object, not a number"),
}


@pytest.mark.parametrize(("leaf", "message"), LEAVES.values(), ids=LEAVES.keys())
def test_a_bad_pixel_in_tf_serving_rows_is_a_400_naming_it(client, leaf, message):
    response = client.post(
        "/v1/models/digits:predict", json={"instances": [ZEROS, with_leaf(leaf)]}
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error.startswith("instances[1][3][4][0]: ") and message in error, error


@pytest.mark.parametrize(("leaf", "message"), LEAVES.values(), ids=LEAVES.keys())
def test_a_bad_pixel_in_tf_serving_columns_is_a_400_naming_it(client, leaf, message):
    response = client.post("/v1/models/digits:predict", json={"inputs": [with_leaf(leaf)]})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error.startswith("inputs[0][3][4][0]: ") and message in error, error


def test_a_bad_pixel_in_a_classify_example_is_a_400_naming_it(client):
    response = client.post(
        "/v1/models/digits:classify", json={"examples": [{"image": with_leaf(True)}]}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "examples[0][3][4][0]: true is a boolean, not a number"


@pytest.mark.parametrize(("leaf", "message"), LEAVES.values(), ids=LEAVES.keys())
@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
def test_a_bad_pixel_in_a_v2_tensor_is_a_400_naming_it(client, leaf, message, nested):
    data = [0.0] * 784
    data[3 * 28 + 4] = leaf
    if nested:
        data = [with_leaf(leaf)]
    body = {"inputs": [{"name": "x", "shape": [1, 28, 28, 1], "datatype": "FP32", "data": data}]}
    response = client.post("/v2/models/digits/infer", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error.startswith("input 'x' data[0][3][4][0]: ") and message in error, error


def test_uint8_booleans_are_not_pixels(client):
    data = [0] * 784
    data[0] = True
    body = {"inputs": [{"name": "x", "shape": [1, 28, 28, 1], "datatype": "UINT8", "data": data}]}
    response = client.post("/v2/models/digits/infer", json=body)
    assert response.status_code == 400
    assert "true is a boolean" in response.json()["error"]


def test_a_model_output_that_is_not_finite_is_a_400_not_a_null(client):
    model = fake_model("v2.0.0", 2_000_000)
    model.batcher = Batcher(lambda batch: np.full((len(batch), 10), np.nan), max_wait_s=0.0)
    client.pool.add(model)  # type: ignore[attr-defined]
    response = client.post("/v1/models/digits/versions/v2.0.0:predict", json={"instances": [ZEROS]})
    assert response.status_code == 400
    assert "the model's output is not finite" in response.json()["error"]


@pytest.fixture
def fleet_client() -> Iterator[tuple[TestClient, ModelPool]]:
    """`digits` serving, `idle` declared too; the pool has not synced with the registry."""
    pool = ModelPool(
        get_settings().serving_root, {"digits": ServingPolicy(), "idle": ServingPolicy()}
    )
    auth = Authenticator(None)
    auth.add_static(KEYS["admin"], Principal("ops", admin=True))
    with TestClient(create_app(pool, get_settings(), database_url=None, auth=auth)) as test:
        test.headers["Authorization"] = f"Bearer {KEYS['admin']}"
        yield test, pool


def test_a_declared_workflow_with_nothing_deployed_is_a_404(fleet_client):
    client, pool = fleet_client
    before_sync = client.get("/v1/models/idle")
    assert before_sync.status_code == 503  # maybe deployed: the registry has not been read
    assert before_sync.headers["Retry-After"] == "5"
    pool.apply({})  # the registry holds no production version of either
    pool.add(fake_model(), "production")
    for path in ("/v1/models/idle", "/v2/models/idle", "/v1/models/idle/metadata"):
        response = client.get(path)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"] == "model 'idle' has no deployed version"
    assert client.get("/v1/models/digits").status_code == 200


def test_readiness_says_when_to_ask_again():
    from modelfleet.serving import v2

    service = object()
    router = v2.router(service, Authenticator(None), lambda: False)  # type: ignore[arg-type]
    ready = next(r for r in router.routes if r.path == "/v2/health/ready").endpoint  # type: ignore[attr-defined]
    response = ready()
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert b'"error"' in response.body


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", "/v1/models/digits:predict", "POST"),
        ("delete", "/v1/models/digits/versions/1000000:classify", "POST"),
        ("post", "/v1/models/digits", "GET"),
        ("put", "/v2/models/digits/infer", "POST"),
        ("post", "/healthz", "GET"),
    ],
)
def test_a_wrong_method_is_a_405_that_says_which_are_allowed(client, method, path, allowed):
    response = client.request(method.upper(), path)
    assert response.status_code == 405
    assert response.headers["Allow"] == allowed


def test_a_trailing_slash_is_a_404_not_a_redirect(client):
    response = client.get("/v1/models/digits/", follow_redirects=False)
    assert response.status_code == 404


def test_the_openapi_document_lists_every_status_each_operation_answers(client):
    document = client.get("/openapi.json").json()
    assert {"bearer", "apiKey"} <= set(document["components"]["securitySchemes"])
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert "422" not in codes, (method, path)
            assert {"200", "400", "408", "413", "431", "503"} <= codes, (method, path)
            keyed = path not in (
                "/healthz",
                "/metrics",
                "/v2",
                "/v2/health/live",
                "/v2/health/ready",
            )
            assert ({"401", "403", "404", "429"} <= codes) == keyed, (method, path)
            assert bool(operation["security"]) == keyed, (method, path)
            for code in ("429", "503"):
                if code in codes:
                    assert operation["responses"][code]["headers"]["Retry-After"]["required"]
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
