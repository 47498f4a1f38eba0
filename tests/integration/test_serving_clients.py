"""Clients of other servers against the live endpoint (`modelfleet serve`, real models of
`digits`): V2's binary tensor extension over HTTP, KServe V2 and TF Serving over gRPC,
pins over gRPC, and tritonclient (HTTP JSON, HTTP binary, gRPC) with its defaults, run
from its own venv (.venv-triton, `make triton-venv`)."""

from __future__ import annotations

import base64
import json
import subprocess
from typing import Any

import grpc
import httpx
import numpy as np
import orjson
import pytest

from modelfleet.cli import main
from modelfleet.serving.grpc import grpc_predict_v2_pb2 as pb
from modelfleet.serving.v2_tensors import pack_bytes, split_bytes
from modelfleet.settings import CHECKOUT
from tests.integration.conftest import all_versions, eventually, frozen_test_image
from tests.integration.test_retrain_dag import production

pytestmark = [pytest.mark.integration, pytest.mark.slow]
HEADER = "Inference-Header-Content-Length"
V2 = "/inference.GRPCInferenceService/"
PIXELS = np.linspace(0, 1, 2 * 784, dtype="<f4").reshape(2, 28, 28, 1)


def grpc_address(served) -> str:  # type: ignore[no-untyped-def]
    return f"127.0.0.1:{served.env['MODELFLEET_GRPC_PORT']}"


def metadata(headers: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return (("authorization", headers["Authorization"]),)


def infer_grpc(served, request: Any, headers: dict[str, str]) -> pb.ModelInferResponse:  # type: ignore[no-untyped-def]
    with grpc.insecure_channel(grpc_address(served)) as channel:
        call = channel.unary_unary(
            V2 + "ModelInfer",
            request_serializer=pb.ModelInferRequest.SerializeToString,
            response_deserializer=pb.ModelInferResponse.FromString,
        )
        reply: pb.ModelInferResponse = call(request, metadata=metadata(headers), timeout=60)
        return reply


def grpc_outputs(reply: pb.ModelInferResponse) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for tensor, raw in zip(reply.outputs, reply.raw_output_contents, strict=True):
        if tensor.datatype == "FP32":
            found[tensor.name] = np.frombuffer(raw, "<f4").reshape(list(tensor.shape))
        else:
            found[tensor.name] = [b.decode() for b in split_bytes(raw, tensor.name)]
    return found


def json_infer(client: httpx.Client, tensor: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v2/models/digits/infer", json={"inputs": [tensor]})
    assert response.status_code == 200, response.text
    outputs = {o["name"]: o["data"] for o in response.json()["outputs"]}
    return {
        "probabilities": np.reshape(outputs["probabilities"], (-1, 10)),
        "label": outputs["label"],
        "version": response.headers["X-Model-Version"],
    }


def binary_infer(client: httpx.Client, tensor: dict[str, Any], raw: bytes) -> dict[str, Any]:
    header = orjson.dumps(
        {
            "inputs": [{**tensor, "parameters": {"binary_data_size": len(raw)}}],
            "parameters": {"binary_data_output": True},
        }
    )
    response = client.post(
        "/v2/models/digits/infer", content=header + raw, headers={HEADER: str(len(header))}
    )
    assert response.status_code == 200, response.text
    length = int(response.headers[HEADER])
    described = orjson.loads(response.content[:length])
    buffer, found = response.content[length:], {"version": described["model_version"]}
    for output in described["outputs"]:
        size = output["parameters"]["binary_data_size"]
        data, buffer = buffer[:size], buffer[size:]
        found[output["name"]] = (
            np.frombuffer(data, "<f4").reshape(output["shape"])
            if output["datatype"] == "FP32"
            else [b.decode() for b in split_bytes(data, "label")]
        )
    return found


def test_binary_tensors_answer_as_json_does(served):
    image = frozen_test_image()
    with httpx.Client(base_url=served.endpoint_url, headers=served.admin_headers) as client:
        pixels = {"name": "image", "datatype": "FP32", "shape": [2, 28, 28, 1]}
        as_json = json_infer(client, {**pixels, "data": PIXELS.ravel().tolist()})
        as_binary = binary_infer(client, pixels, PIXELS.tobytes())
        uint8 = np.rint(PIXELS * 255).astype(np.uint8)
        as_uint8 = binary_infer(client, {**pixels, "datatype": "UINT8"}, uint8.tobytes())
        encoded = {"name": "encoded_image", "datatype": "BYTES", "shape": [1]}
        image_json = json_infer(client, {**encoded, "data": [base64.b64encode(image).decode()]})
        image_binary = binary_infer(client, encoded, pack_bytes([image]))
    assert as_json["version"] == as_binary["version"] == production(served)
    np.testing.assert_allclose(as_binary["probabilities"], as_json["probabilities"], atol=1e-6)
    assert as_binary["label"] == as_json["label"] == as_uint8["label"]
    np.testing.assert_allclose(
        image_binary["probabilities"], image_json["probabilities"], atol=1e-6
    )
    assert image_binary["label"] == image_json["label"]


def test_grpc_answers_as_http_does_and_is_counted(served):
    from tensorflow.core.framework import tensor_pb2, types_pb2
    from tensorflow_serving.apis import predict_pb2

    image = frozen_test_image()
    with httpx.Client(base_url=served.endpoint_url, headers=served.admin_headers) as client:
        http = json_infer(
            client,
            {
                "name": "encoded_image",
                "datatype": "BYTES",
                "shape": [1],
                "data": [base64.b64encode(image).decode()],
            },
        )
    request = pb.ModelInferRequest(model_name="digits")
    request.inputs.add(name="encoded_image", datatype="BYTES", shape=[1])
    request.raw_input_contents.append(pack_bytes([image]))
    reply = infer_grpc(served, request, served.admin_headers)
    assert reply.model_version == http["version"]
    found = grpc_outputs(reply)
    np.testing.assert_allclose(found["probabilities"], http["probabilities"], atol=1e-6)
    assert found["label"] == http["label"]

    predict = predict_pb2.PredictRequest()
    predict.model_spec.name = "digits"
    predict.inputs["image"].CopyFrom(
        tensor_pb2.TensorProto(
            dtype=types_pb2.DT_STRING, tensor_shape={"dim": [{"size": 1}]}, string_val=[image]
        )
    )
    with grpc.insecure_channel(grpc_address(served)) as channel:
        tf_reply = channel.unary_unary(
            "/tensorflow.serving.PredictionService/Predict",
            request_serializer=predict_pb2.PredictRequest.SerializeToString,
            response_deserializer=predict_pb2.PredictResponse.FromString,
        )(predict, metadata=metadata(served.admin_headers), timeout=60)
    (output,) = tf_reply.outputs.values()
    scores = np.frombuffer(output.tensor_content, "<f4").reshape(1, 10)
    np.testing.assert_allclose(scores, http["probabilities"], atol=1e-6)
    text = httpx.get(f"{served.endpoint_url}/metrics", timeout=10).text
    assert 'protocol="grpc-v2",status="200"' in text
    assert 'protocol="grpc-tfserving",status="200"' in text


def test_grpc_follows_an_applications_pin(served, capsys):
    current = production(served)
    older = next(v for v in all_versions(served) if v != current)
    assert main(["apps", "create", "grpc-hmi", "--grant", f"digits={older}", "--actor", "t"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {key}"}
    request = pb.ModelInferRequest(model_name="digits")
    request.inputs.add(name="image", datatype="FP32", shape=[1, 28, 28, 1])
    request.raw_input_contents.append(PIXELS[:1].tobytes())

    def version() -> str:
        try:
            return infer_grpc(served, request, headers).model_version
        except grpc.RpcError as error:
            return str(error.code())

    assert eventually(lambda: version() == older), version()
    with pytest.raises(grpc.RpcError) as denied:
        infer_grpc(served, request, {"Authorization": f"Bearer {key[:-2]}xx"})
    assert denied.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.fixture(scope="module")
def triton_python() -> str:
    """tritonclient's venv: `make triton-venv` builds it once (make test does it first);
    once built it is a no-op, so a run without the package index passes."""
    built = subprocess.run(
        ["make", "-s", "triton-venv"], cwd=CHECKOUT, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    return str(CHECKOUT / ".venv-triton" / "bin" / "python")


def test_tritonclient_with_its_defaults(served, triton_python, tmp_path):
    image = tmp_path / "digit.png"
    image.write_bytes(frozen_test_image())
    key = served.admin_headers["Authorization"].removeprefix("Bearer ")
    ran = subprocess.run(
        [
            triton_python,
            str(CHECKOUT / "tests" / "clients" / "triton_client.py"),
            "--http",
            served.endpoint_url.removeprefix("http://"),
            "--grpc",
            grpc_address(served),
            "--key",
            key,
            "--model",
            "digits",
            "--image",
            str(image),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    seen = json.loads(ran.stdout)
    assert seen["http_live"] and seen["grpc_live"]
    assert seen["http_metadata"] == seen["grpc_metadata"] == "digits"
    assert seen["grpc_wrong_key"] == "StatusCode.UNAUTHENTICATED"
    with httpx.Client(base_url=served.endpoint_url, headers=served.admin_headers) as client:
        expected = json_infer(
            client,
            {
                "name": "image",
                "datatype": "FP32",
                "shape": [2, 28, 28, 1],
                "data": np.linspace(0, 1, 2 * 784, dtype=np.float32).tolist(),
            },
        )
    for way in ("http_json", "http_binary", "grpc"):
        assert seen[way]["version"] == expected["version"], way
        np.testing.assert_allclose(seen[way]["probabilities"], expected["probabilities"], atol=1e-5)
        assert seen[way]["labels"] == expected["label"], way
        assert seen[way + "_image"]["labels"] == seen["http_json_image"]["labels"], way
