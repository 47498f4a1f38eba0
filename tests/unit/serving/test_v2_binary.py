"""V2's binary tensor extension through the endpoint app (stand-in model): inputs after
the JSON header (`Inference-Header-Content-Length`, `binary_data_size`) in every datatype
the endpoint takes, outputs in binary on request, and every malformed binary request a
400 naming what was wrong."""

from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest

from modelfleet.serving.v2_tensors import pack_bytes, split_bytes
from tests.unit.serving.test_endpoint_contract import bomb_png, image

URL = "/v2/models/digits/infer"
HEADER = "Inference-Header-Content-Length"


def binary_request(inputs: list[dict], raw: bytes, **extra: object) -> tuple[bytes, dict[str, str]]:
    header = orjson.dumps({"inputs": inputs, **extra})
    return header + raw, {HEADER: str(len(header))}


def tensor(datatype: str, shape: list[int], size: int) -> dict:
    return {
        "name": "image",
        "datatype": datatype,
        "shape": shape,
        "parameters": {"binary_data_size": size},
    }


def outputs_of(response) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """name -> values, whichever way each output came (JSON data or binary)."""
    length = int(response.headers.get(HEADER, len(response.content)))
    header = orjson.loads(response.content[:length])
    buffer, found = response.content[length:], {}
    for output in header["outputs"]:
        size = output.get("parameters", {}).get("binary_data_size")
        if size is None:
            found[output["name"]] = output["data"]
            continue
        raw, buffer = buffer[:size], buffer[size:]
        if output["datatype"] == "FP32":
            found[output["name"]] = np.frombuffer(raw, "<f4").reshape(output["shape"])
        else:
            found[output["name"]] = [b.decode() for b in split_bytes(raw, "output")]
    assert buffer == b""
    return found


@pytest.mark.parametrize("level", [0.0, 0.2, 1.0])  # exact in UINT8 (51 / 255)
def test_binary_fp32_and_uint8_inputs_answer_as_json_does(client, level):
    pixels = np.full((2, 28, 28, 1), level, dtype=np.float32)
    as_json = client.post(
        URL,
        json={
            "inputs": [
                {
                    "name": "image",
                    "datatype": "FP32",
                    "shape": [2, 28, 28, 1],
                    "data": pixels.ravel().tolist(),
                }
            ]
        },
    )
    raw = pixels.astype("<f4").tobytes()
    body, headers = binary_request([tensor("FP32", [2, 28, 28, 1], len(raw))], raw)
    fp32 = client.post(URL, content=body, headers=headers)
    raw8 = np.rint(pixels * 255).astype(np.uint8).tobytes()
    body, headers = binary_request([tensor("UINT8", [2, 28, 28, 1], len(raw8))], raw8)
    uint8 = client.post(URL, content=body, headers=headers)
    assert as_json.status_code == fp32.status_code == uint8.status_code == 200, uint8.text
    assert HEADER not in fp32.headers  # outputs in JSON unless asked for in binary
    assert as_json.json()["outputs"] == fp32.json()["outputs"] == uint8.json()["outputs"]
    assert fp32.headers["X-Model-Version"] == "v1.0.0"


def test_binary_bytes_input_is_length_prefixed_images(client):
    images = [image("RGB", (64, 48)), image("L", (20, 30), "JPEG")]
    raw = pack_bytes(images)
    body, headers = binary_request([tensor("BYTES", [2], len(raw))], raw)
    response = client.post(URL, content=body, headers=headers)
    assert response.status_code == 200, response.text
    labels = outputs_of(response)["label"]
    assert labels == ["0", "0"]  # black images: mean pixel 0


def test_binary_outputs_when_asked_for_all_or_one(client):
    pixels = np.full((3, 28, 28, 1), 1.0, dtype="<f4").tobytes()
    inputs = [tensor("FP32", [3, 28, 28, 1], len(pixels))]
    body, headers = binary_request(inputs, pixels, parameters={"binary_data_output": True})
    every = client.post(URL, content=body, headers=headers)
    assert every.status_code == 200, every.text
    assert every.headers["content-type"] == "application/octet-stream"
    found = outputs_of(every)
    assert found["probabilities"].shape == (3, 10)
    assert found["probabilities"].argmax(axis=1).tolist() == [9, 9, 9]
    assert found["label"] == ["9", "9", "9"]
    # Per output: labels in binary, probabilities in JSON (with a JSON request too).
    one = client.post(
        URL,
        json={
            "inputs": [
                {
                    "name": "image",
                    "datatype": "FP32",
                    "shape": [1, 28, 28, 1],
                    "data": [1.0] * 784,
                }
            ],
            "outputs": [
                {"name": "probabilities"},
                {"name": "label", "parameters": {"binary_data": True}},
            ],
            "id": "r1",
        },
    )
    assert one.status_code == 200, one.text
    length = int(one.headers[HEADER])
    header = orjson.loads(one.content[:length])
    assert header["id"] == "r1" and header["model_version"] == "v1.0.0"
    assert header["outputs"][0]["data"][9] == 1.0
    assert header["outputs"][1]["parameters"] == {"binary_data_size": 5}
    assert one.content[length:] == struct.pack("<I", 1) + b"9"


def test_server_metadata_names_the_binary_extension(client):
    assert "binary_tensor_data" in client.get("/v2").json()["extensions"]


FP32_784 = np.zeros(784, dtype="<f4").tobytes()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: (FP32_784, {HEADER: "abc"}),
            "Inference-Header-Content-Length must be the JSON header's length",
        ),
        (
            lambda: (FP32_784, {HEADER: "99999999999999999999"}),
            "Inference-Header-Content-Length must be the JSON header's length",
        ),
        (lambda: (b"{}", {HEADER: "3"}), "at most the body's 2"),
        (
            lambda: binary_request([tensor("FP32", [1, 28, 28, 1], 784 * 4)], FP32_784[:-4]),
            "'binary_data_size' is 3136, but 3132 bytes follow",
        ),
        (
            lambda: binary_request([tensor("FP32", [2, 28, 28, 1], 784 * 4)], FP32_784),
            "3136 bytes of binary data, but shape [2, 28, 28, 1] of FP32 needs 6272",
        ),
        (
            lambda: binary_request([tensor("FP32", [1, 28, 28, 2], 784 * 4)], FP32_784),
            "does not match the model input [n, 28, 28, 1]",
        ),
        (
            lambda: binary_request([tensor("UINT8", [1, 28, 28, 1], 784 * 4)], FP32_784),
            "3136 bytes of binary data, but shape [1, 28, 28, 1] of UINT8 needs 784",
        ),
        (
            lambda: binary_request(
                [tensor("FP32", [1, 28, 28, 1], 784 * 4)],
                np.full(784, np.nan, dtype="<f4").tobytes(),
            ),
            "input 'image' data[0][0][0][0]: nan is not finite",
        ),
        (
            lambda: binary_request(
                [tensor("FP32", [1, 28, 28, 1], 784 * 4)],
                np.full(784, 3e7, dtype="<f4").tobytes(),
            ),
            "is outside ±1e+06",
        ),
        (
            lambda: binary_request([tensor("FP64", [1, 28, 28, 1], 784 * 4)], FP32_784),
            "datatype must be FP32, UINT8 or BYTES",
        ),
        (
            lambda: binary_request([tensor("BYTES", [1], 3)], b"\x05\x00\x00"),
            "BYTES element 0 has a cut-off length prefix",
        ),
        (
            lambda: binary_request([tensor("BYTES", [1], 6)], struct.pack("<I", 9) + b"ab"),
            "BYTES element 0 declares 9 bytes, only 2 remain",
        ),
        (
            lambda: binary_request([tensor("BYTES", [2], 6)], pack_bytes([b"ab"])),
            "BYTES input needs shape [n] with n = 1 images",
        ),
        (
            lambda: binary_request([tensor("BYTES", [1], 10)], pack_bytes([b"not an"])),
            "input 'image'[0]",
        ),
        (
            lambda: binary_request([tensor("FP32", [1, 28, 28, 1], -1)], FP32_784),
            "'binary_data_size' must be a whole number of bytes",
        ),
        (
            lambda: binary_request(
                [{**tensor("FP32", [1, 28, 28, 1], 3136), "data": [0] * 784}], FP32_784
            ),
            "give 'data' or 'binary_data_size', not both",
        ),
        (
            lambda: binary_request(
                [{"name": "image", "datatype": "FP32", "shape": [1, 28, 28, 1], "data": [0] * 784}],
                b"xx",
            ),
            "2 bytes follow the JSON header, but no input declares 'binary_data_size'",
        ),
        (
            lambda: (
                orjson.dumps({"inputs": [tensor("FP32", [1, 28, 28, 1], 3136)]}),
                {},
            ),
            "'binary_data_size' needs the Inference-Header-Content-Length header",
        ),
        (
            lambda: binary_request(
                [tensor("FP32", [1, 28, 28, 1], 3136)],
                FP32_784,
                parameters={"binary_data_output": 1},
            ),
            "parameter 'binary_data_output' must be true or false",
        ),
        (
            lambda: binary_request(
                [tensor("FP32", [1, 28, 28, 1], 3136)], FP32_784, outputs=[{"name": ["x"]}]
            ),
            "'outputs' may request",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_malformed_binary_requests_are_a_400_naming_the_problem(client, build, message):
    body, headers = build()
    response = client.post(URL, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert len(response.text) < 400


def test_binary_bounds_as_for_json(client):
    many = pack_bytes([image("L", (8, 8))] * 257)
    body, headers = binary_request([tensor("BYTES", [257], len(many))], many)
    assert client.post(URL, content=body, headers=headers).status_code == 413
    bomb = pack_bytes([bomb_png()])
    body, headers = binary_request([tensor("BYTES", [1], len(bomb))], bomb)
    refused = client.post(URL, content=body, headers=headers)
    assert refused.status_code == 400 and "decompression bomb" in refused.json()["error"]
    huge = b"\x00" * (32 * 1024 * 1024)
    body, headers = binary_request([tensor("UINT8", [1, 28, 28, 1], len(huge))], huge)
    assert client.post(URL, content=body, headers=headers).status_code == 413


def test_a_model_answering_more_columns_than_classes_is_a_named_server_error(client):
    from modelfleet.serving.batching import Batcher
    from tests.unit.serving.conftest import fake_model

    broken = fake_model("v2.0.0", 2_000_000)
    broken.batcher = Batcher(lambda b: np.ones((len(b), 11), np.float32), max_wait_s=0.0)
    client.pool.add(broken, "candidate")
    raw = np.zeros(784, "<f4").tobytes()
    body, headers = binary_request([tensor("FP32", [1, 28, 28, 1], len(raw))], raw)
    response = client.post("/v2/models/digits/versions/v2.0.0/infer", content=body, headers=headers)
    assert response.status_code == 500
    assert "answers shape [1, 11], but its export names 10 classes" in response.json()["error"]
