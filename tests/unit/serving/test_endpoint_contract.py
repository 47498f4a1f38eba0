"""The endpoint's wire contract: both protocols, auth, pins, and a clear 4xx for every
kind of bad input (never a 500)."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.unit.serving.conftest import KEYS

ZEROS = [[[0.0]] * 28] * 28


def image(mode: str, size=(64, 48), fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    if mode == "I;16":
        Image.fromarray(np.full(size[::-1], 40_000, dtype=np.uint16)).save(buffer, format=fmt)
    else:
        Image.new(mode, size).save(buffer, format=fmt)
    return buffer.getvalue()


def bomb_png(side: int = 60_000) -> bytes:
    """A valid PNG header declaring side x side pixels (3.6 billion), with no real data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "message"),
    [
        ("post", "/v1/models/digits:predict", {"content": b"{not json"}, 400, "not valid JSON"),
        ("post", "/v1/models/digits:predict", {"content": b"[1, 2]"}, 400, "must be a JSON object"),
        ("post", "/v1/models/digits:predict", {"json": {}}, 400, "exactly one of 'instances'"),
        (
            "post",
            "/v1/models/digits:predict",
            {"json": {"instances": [[1, 2, 3]]}},
            400,
            "does not match the model input [28, 28, 1]",
        ),
        (
            "post",
            "/v1/models/digits:predict",
            {"json": {"instances": [[["a"]]]}},
            400,
            "expected a numeric tensor of shape [28, 28, 1]",
        ),
        ("post", "/v1/models/digits:predict", {"json": {"instances": []}}, 400, "non-empty list"),
        (
            "post",
            "/v1/models/digits:predict",
            {"json": {"instances": [ZEROS] * 257}},
            413,
            "at most 256",
        ),
        (
            "post",
            "/v1/models/digits:predict",
            {"content": b'{"instances": [NaN]}'},
            400,
            "not valid JSON",
        ),
        (
            "post",
            "/v1/models/digits:predict",
            {"content": b'{"instances": [[[[1e999]]]]}'},
            400,
            "",
        ),
        (
            "post",
            "/v1/models/digits:predict",
            {"json": {"instances": [[[[None]] * 28] * 28]}},
            400,
            "instances[0][0][0][0]: null is not a number",
        ),
        (
            "post",
            "/v1/models/digits:predict",
            {"json": {"instances": [[["0" * 28] + [[0.0]] * 27] * 28]}},
            400,
            "instances[0]: expected a numeric tensor of shape [28, 28, 1]",
        ),
        (
            "post",
            "/v1/models/digits:predict",
            {"json": {"instances": [{"b64": "%%%"}]}},
            400,
            "not valid base64",
        ),
        (
            "post",
            "/v1/models/digits:predict",
            {"json": {"instances": [{"b64": b64(b"plain text")}]}},
            400,
            "not a decodable image",
        ),
        (
            "post",
            "/v1/models/digits:predict",
            {"json": {"instances": [{"b64": b64(image("L")[:60])}]}},
            400,
            "instances[0]",
        ),
        (
            "post",
            "/v1/models/digits:predict",
            {"json": {"instances": [{"b64": b64(bomb_png())}]}},
            400,
            "decompression bomb",
        ),
        (
            "post",
            "/v1/models/digits:predict",
            {"json": {"instances": [{"x": 1}]}},
            400,
            "an object must be",
        ),
        (
            "post",
            "/v1/models/digits:predict",
            {"json": {"inputs": {"wrong": ZEROS}}},
            400,
            "exactly the key 'image'",
        ),
        (
            "post",
            "/v1/models/digits:classify",
            {"files": {"file": ("x.png", b"nope")}},
            400,
            "not a decodable image",
        ),
        (
            "post",
            "/v1/models/digits:classify",
            {"files": {"other": ("x.png", image("L"))}},
            400,
            "field 'file'",
        ),
        (
            "post",
            "/v1/models/digits:classify",
            {"json": {"examples": [{"a": 1, "b": 2}]}},
            400,
            "expected one feature",
        ),
        (
            "post",
            "/v1/models/digits:classify?top_k=zero",
            {"files": {"file": ("x.png", image("L"))}},
            400,
            "top_k",
        ),
        (
            "post",
            "/v1/models/nope:predict",
            {"json": {"instances": [ZEROS]}},
            403,
            "no grant for workflow 'nope'",
        ),
        (
            "post",
            "/v1/models/digits/versions/7:predict",
            {"json": {"instances": [ZEROS]}},
            404,
            "version 7 is not loaded",
        ),
        (
            "post",
            "/v1/models/digits/versions/latest:predict",
            {"json": {"instances": [ZEROS]}},
            404,
            "neither an integer nor vX.Y.Z",
        ),
        (
            "post",
            "/v1/models/digits/labels/stable:predict",
            {"json": {"instances": [ZEROS]}},
            404,
            "no label 'stable'",
        ),
        (
            "post",
            "/v1/models/digits:predict",
            {"content": b"x" * (32 * 1024 * 1024 + 1)},
            413,
            "exceeds",
        ),
        (
            "post",
            "/v2/models/digits/infer",
            {"json": {"inputs": []}},
            400,
            "exactly one input tensor",
        ),
        (
            "post",
            "/v2/models/digits/infer",
            {
                "json": {
                    "inputs": [
                        {"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}
                    ]
                }
            },
            400,
            "does not match the model input [n, 28, 28, 1]",
        ),
        (
            "post",
            "/v2/models/digits/infer",
            {
                "json": {
                    "inputs": [
                        {"name": "x", "shape": [1, 28, 28, 1], "datatype": "FP32", "data": [1]}
                    ]
                }
            },
            400,
            "must hold 784 numbers",
        ),
        (
            "post",
            "/v2/models/digits/infer",
            {
                "json": {
                    "inputs": [
                        {
                            "name": "x",
                            "shape": [1, 28, 28, 1],
                            "datatype": "INT64",
                            "data": [0] * 784,
                        }
                    ]
                }
            },
            400,
            "FP32, UINT8 or BYTES",
        ),
        (
            "post",
            "/v2/models/digits/infer",
            {
                "json": {
                    "inputs": [
                        {
                            "name": "x",
                            "shape": [1, 28, 28, 1],
                            "datatype": "UINT8",
                            "data": [300] * 784,
                        }
                    ]
                }
            },
            400,
            "integers 0..255",
        ),
        (
            "post",
            "/v2/models/digits/infer",
            {
                "json": {
                    "inputs": [
                        {"name": "x", "shape": [2], "datatype": "BYTES", "data": [b64(image("L"))]}
                    ]
                }
            },
            400,
            "shape [n] with n = 1",
        ),
        (
            "post",
            "/v2/models/digits/infer",
            {
                "json": {
                    "inputs": [
                        {"name": "x", "shape": [1], "datatype": "BYTES", "data": [b64(b"GIF89a..")]}
                    ]
                }
            },
            400,
            "not a decodable image",
        ),
        (
            "post",
            "/v2/models/digits/infer",
            {
                "json": {
                    "inputs": [
                        {
                            "name": "x",
                            "shape": [1, 28, 28, 1],
                            "datatype": "FP32",
                            "data": [0] * 784,
                        }
                    ],
                    "outputs": [{"name": "logits"}],
                }
            },
            400,
            "'outputs' may request",
        ),
        ("get", "/v2/models/nope", {}, 403, "no grant"),
    ],
)
def test_bad_input_gets_a_clear_4xx(client, method, path, kwargs, status, message):
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    "data",
    [
        image("RGB", (640, 480), "JPEG"),
        image("L", (28, 28)),
        image("RGBA", (100, 30)),
        image("CMYK", (50, 50), "JPEG"),
        image("I;16", (40, 40)),
        image("P", (33, 77), "GIF"),
    ],
    ids=["rgb-jpeg", "gray-png", "rgba-png", "cmyk-jpeg", "16bit-png", "palette-gif"],
)
def test_classify_takes_camera_images_of_any_size_and_mode(client, data):
    response = client.post("/v1/models/digits:classify?top_k=2", files={"file": ("cam", data)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["top_k"]) == 2 and body["label"] == body["top_k"][0]["label"]
    assert body["model_version"] == response.headers["X-Model-Version"] == "v1.0.0"


def test_auth_no_key_wrong_key_and_no_grant(client):
    path = "/v1/models/digits:predict"
    body = {"instances": [ZEROS]}
    for headers, status, message in [
        ({"Authorization": ""}, 401, "missing API key"),
        ({"Authorization": "Bearer mf_wrong"}, 401, "unknown or revoked"),
        ({"Authorization": "Basic abc"}, 401, "Bearer"),
        ({"Authorization": f"Bearer {KEYS['none']}"}, 403, "no grant for workflow 'digits'"),
    ]:
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == status, response.text
        assert message in response.json()["error"]
    del client.headers["Authorization"]
    assert client.post(path, json=body, headers={"X-API-Key": KEYS["app"]}).status_code == 200


def test_unversioned_requests_follow_the_pin_and_urls_may_name_a_version_or_label(client):
    assert (
        client.post("/v1/models/digits:predict", json={"instances": [ZEROS]}).headers[
            "X-Model-Version"
        ]
        == "v1.0.0"
    )
    by_label = client.post(
        "/v1/models/digits/labels/candidate:predict", json={"instances": [ZEROS]}
    )
    assert by_label.headers["X-Model-Version"] == "v0.9.0"
    by_semver = client.post(
        "/v2/models/digits/versions/v0.9.0/infer",
        json={
            "inputs": [
                {"name": "x", "shape": [1, 28, 28, 1], "datatype": "FP32", "data": [0.0] * 784}
            ]
        },
    )
    assert by_semver.json()["model_version"] == "v0.9.0"
    status = client.get("/v1/models/digits").json()
    assert [s["version"] for s in status["model_version_status"]] == ["9000", "1000000"]
    for one in ("/v1/models/digits/labels/candidate", "/v1/models/digits/versions/9000"):
        status = client.get(one).json()
        assert [s["version"] for s in status["model_version_status"]] == ["9000"], one


def test_predict_rows_columns_and_images_agree(client):
    white = [[[1.0]] * 28] * 28
    rows = client.post("/v1/models/digits:predict", json={"instances": [ZEROS, white]}).json()
    columns = client.post(
        "/v1/models/digits:predict", json={"inputs": {"image": [ZEROS, white]}}
    ).json()
    png = image("L", (28, 28))
    encoded = client.post(
        "/v1/models/digits:predict", json={"instances": [{"b64": b64(png)}]}
    ).json()
    assert rows["predictions"] == columns["outputs"]
    assert np.argmax(rows["predictions"][0]) == 0 and np.argmax(rows["predictions"][1]) == 9
    assert encoded["predictions"] == rows["predictions"][:1]  # black PNG == zeros
    examples = client.post(
        "/v1/models/digits:classify",
        json={"examples": [{"image": {"b64": b64(png)}}, {"image": white}]},
    ).json()
    assert [r[0][0] for r in examples["results"]] == ["0", "9"]


def test_v2_fp32_uint8_and_bytes_tensors(client):
    def infer(tensor: dict) -> dict:
        response = client.post("/v2/models/digits/infer", json={"id": "r1", "inputs": [tensor]})
        assert response.status_code == 200, response.text
        return response.json()

    fp32 = infer(
        {"name": "image", "shape": [1, 28, 28, 1], "datatype": "FP32", "data": [1.0] * 784}
    )
    uint8 = infer(
        {"name": "image", "shape": [1, 28, 28, 1], "datatype": "UINT8", "data": [255] * 784}
    )
    blobs = infer(
        {
            "name": "encoded_image",
            "shape": [1],
            "datatype": "BYTES",
            "data": [b64(image("L", (28, 28)))],
        }
    )
    assert fp32["outputs"] == uint8["outputs"]
    assert fp32["outputs"][1] == {"name": "label", "datatype": "BYTES", "shape": [1], "data": ["9"]}
    assert blobs["outputs"][1]["data"] == ["0"] and fp32["id"] == "r1"
    assert fp32["outputs"][0]["shape"] == [1, 10]
    meta = client.get("/v2/models/digits").json()
    assert meta["inputs"][0]["shape"] == [-1, 28, 28, 1] and meta["parameters"]["classes"][0] == "0"
    assert client.get("/v2/models/digits/versions/9000/ready").json()["ready"] is True
    assert (
        client.get("/v2/health/live").status_code
        == client.get("/v2/health/ready").status_code
        == 200
    )


def test_tf_serving_metadata_names_signature_and_classes(client):
    meta = client.get("/v1/models/digits/versions/1000000/metadata").json()
    signature = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    dims = [d["size"] for d in signature["inputs"]["image"]["tensor_shape"]["dim"]]
    assert dims == ["-1", "28", "28", "1"]
    assert meta["classes"] == [str(d) for d in range(10)]
    assert meta["labels"] == {"production": "v1.0.0", "candidate": "v0.9.0"}


def test_metrics_count_requests_batches_and_loaded_versions(client):
    client.post("/v1/models/digits:predict", json={"instances": [ZEROS]})
    client.post("/v1/models/digits:predict", content=b"{")
    text = client.get("/metrics").text
    assert (
        'modelfleet_requests_total{model="digits",protocol="tfserving",status="200",version="v1.0.0"}'
        in text
    )
    assert 'status="400"' in text
    assert "modelfleet_request_latency_seconds_bucket" in text
    assert client.get("/docs").status_code == 200
    assert "/v2/models/{workflow}/infer" in client.get("/openapi.json").json()["paths"]


def test_admin_routes_need_an_admin_key(client):
    response = client.get("/v1/models/digits")
    assert response.status_code == 200
    # No database in this app: management routes are not mounted; see the integration test.
    assert client.post("/admin/models/digits/rollback", json={"reason": "x"}).status_code == 404
