"""The endpoint's gRPC services (stand-in model), served by the app's lifespan in its
event loop as a worker serves them, over a real gRPC channel: KServe V2 with raw and
typed contents, TF Serving's Predict and GetModelMetadata, keys and pins as over HTTP,
and bad input of any kind INVALID_ARGUMENT (a hypothesis fuzz), never INTERNAL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelfleet.host.ports import free_port
from modelfleet.serving.app import create_app
from modelfleet.serving.auth import Authenticator, Principal
from modelfleet.serving.grpc import grpc_predict_v2_pb2 as pb
from modelfleet.serving.pool import ModelPool
from modelfleet.serving.v2_tensors import pack_bytes, split_bytes
from modelfleet.settings import get_settings
from tests.unit.serving.conftest import KEYS, fake_model
from tests.unit.serving.grpc_client import ONES, V2, Endpoint, fp32_request, shaped
from tests.unit.serving.test_endpoint_contract import image

TFS = "/tensorflow.serving.PredictionService/"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    pool = ModelPool(get_settings().serving_root, {})
    pool.add(fake_model(), "production")
    pool.add(fake_model("v0.9.0", 9_000), "candidate")
    auth = Authenticator(None)
    auth.add_static(KEYS["app"], Principal("app", grants={"digits": "production"}))
    auth.add_static(KEYS["none"], Principal("other", grants={"surface_line1": "production"}))
    address = f"127.0.0.1:{free_port()}"
    app = create_app(pool, get_settings(), database_url=None, auth=auth, grpc_address=address)
    with TestClient(app) as http, grpc.insecure_channel(address) as channel:
        http.headers["Authorization"] = f"Bearer {KEYS['app']}"
        yield Endpoint(http, channel)


def outputs(reply: pb.ModelInferResponse) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for tensor, raw in zip(reply.outputs, reply.raw_output_contents, strict=True):
        if tensor.datatype == "FP32":
            found[tensor.name] = np.frombuffer(raw, "<f4").reshape(list(tensor.shape))
        else:
            found[tensor.name] = [b.decode() for b in split_bytes(raw, tensor.name)]
    return found


def test_health_and_metadata(endpoint):
    assert endpoint.call(V2 + "ServerLive", pb.ServerLiveRequest(), pb.ServerLiveResponse).live
    assert endpoint.call(V2 + "ServerReady", pb.ServerReadyRequest(), pb.ServerReadyResponse).ready
    server = endpoint.call(
        V2 + "ServerMetadata", pb.ServerMetadataRequest(), pb.ServerMetadataResponse
    )
    assert server.name == "modelfleet"
    ready = endpoint.call(
        V2 + "ModelReady", pb.ModelReadyRequest(name="digits"), pb.ModelReadyResponse
    )
    assert ready.ready
    meta = endpoint.call(
        V2 + "ModelMetadata", pb.ModelMetadataRequest(name="digits"), pb.ModelMetadataResponse
    )
    assert meta.name == "digits" and set(meta.versions) == {"v1.0.0", "v0.9.0"}
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.inputs] == [
        ("image", "FP32", [-1, 28, 28, 1]),
        ("encoded_image", "BYTES", [-1]),
    ]
    assert [t.name for t in meta.outputs] == ["probabilities", "label"]


def test_raw_and_typed_contents_answer_as_http_does(endpoint):
    http = endpoint.http.post(
        "/v2/models/digits/infer",
        json={
            "inputs": [
                {
                    "name": "x",
                    "datatype": "FP32",
                    "shape": [2, 28, 28, 1],
                    "data": ONES.ravel().tolist(),
                }
            ]
        },
    ).json()
    raw = endpoint.infer(fp32_request(id="r7"))
    assert raw.model_name == "digits" and raw.model_version == "v1.0.0" and raw.id == "r7"
    found = outputs(raw)
    assert (
        found["probabilities"].tolist() == np.reshape(http["outputs"][0]["data"], (2, 10)).tolist()
    )
    assert found["label"] == http["outputs"][1]["data"] == ["9", "9"]
    typed = pb.ModelInferRequest(model_name="digits")
    typed.inputs.add(
        name="image", datatype="FP32", shape=[2, 28, 28, 1]
    ).contents.fp32_contents.extend(ONES.ravel().tolist())
    assert outputs(endpoint.infer(typed))["label"] == ["9", "9"]
    uint8 = pb.ModelInferRequest(
        model_name="digits", outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(name="label")]
    )
    uint8.inputs.add(
        name="image", datatype="UINT8", shape=[1, 28, 28, 1]
    ).contents.uint_contents.extend([255] * 784)
    answered = endpoint.infer(uint8)
    assert [o.name for o in answered.outputs] == ["label"] and outputs(answered)["label"] == ["9"]


def test_images_as_raw_bytes_or_bytes_contents(endpoint):
    images = [image("RGB", (64, 48)), image("L", (30, 20), "JPEG")]
    raw = pb.ModelInferRequest(model_name="digits")
    raw.inputs.add(name="encoded_image", datatype="BYTES", shape=[2])
    raw.raw_input_contents.append(pack_bytes(images))
    typed = pb.ModelInferRequest(model_name="digits")
    typed.inputs.add(
        name="encoded_image", datatype="BYTES", shape=[2]
    ).contents.bytes_contents.extend(images)
    assert (
        outputs(endpoint.infer(raw))["label"]
        == outputs(endpoint.infer(typed))["label"]
        == ["0", "0"]
    )


def test_keys_and_pins_as_over_http(endpoint):
    assert (
        endpoint.refused(V2 + "ModelInfer", fp32_request(), metadata=()).code()
        == grpc.StatusCode.UNAUTHENTICATED
    )
    wrong = (("authorization", "Bearer mf-nope"),)
    assert (
        endpoint.refused(V2 + "ModelInfer", fp32_request(), metadata=wrong).code()
        == grpc.StatusCode.UNAUTHENTICATED
    )
    other = (("authorization", f"Bearer {KEYS['none']}"),)
    denied = endpoint.refused(V2 + "ModelInfer", fp32_request(), metadata=other)
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED and "no grant" in denied.details()
    versioned = endpoint.infer(fp32_request(model_version="v0.9.0"))
    assert versioned.model_version == "v0.9.0"
    missing = endpoint.refused(V2 + "ModelInfer", fp32_request(model_version="v7.0.0"))
    assert missing.code() == grpc.StatusCode.NOT_FOUND


def test_other_methods_are_unimplemented(endpoint):
    for method in (V2 + "ModelStatistics", V2 + "ModelStreamInfer", TFS + "Classify", "/x.Y/Z"):
        assert (
            endpoint.refused(method, b"", pb.ServerLiveResponse).code()
            == grpc.StatusCode.UNIMPLEMENTED
        )


def test_tf_serving_predict_and_metadata(endpoint):
    from tensorflow.core.framework import tensor_pb2, types_pb2
    from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "digits"
    tensor = request.inputs["image"]
    tensor.dtype = types_pb2.DT_FLOAT
    tensor.tensor_shape.dim.extend([tensor.tensor_shape.Dim(size=d) for d in (2, 28, 28, 1)])
    tensor.tensor_content = ONES.tobytes()
    reply = endpoint.call(TFS + "Predict", request, predict_pb2.PredictResponse)
    out = reply.outputs["output_0"]
    assert np.frombuffer(out.tensor_content, "<f4").reshape(2, 10).argmax(axis=1).tolist() == [9, 9]
    assert reply.model_spec.version.value == 1_000_000
    images = predict_pb2.PredictRequest()
    images.model_spec.name = "digits"
    images.model_spec.version_label = "candidate"
    images.inputs["x"].CopyFrom(
        tensor_pb2.TensorProto(
            dtype=types_pb2.DT_STRING,
            tensor_shape={"dim": [{"size": 1}]},
            string_val=[image("RGB")],
        )
    )
    labelled = endpoint.call(TFS + "Predict", images, predict_pb2.PredictResponse)
    assert labelled.model_spec.version.value == 9_000
    meta_request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    meta_request.model_spec.name = "digits"
    meta = endpoint.call(
        TFS + "GetModelMetadata", meta_request, get_model_metadata_pb2.GetModelMetadataResponse
    )
    signatures = get_model_metadata_pb2.SignatureDefMap()
    meta.metadata["signature_def"].Unpack(signatures)
    signature = signatures.signature_def["serving_default"]
    assert [d.size for d in signature.inputs["image"].tensor_shape.dim] == [-1, 28, 28, 1]
    request.inputs["image"].dtype = types_pb2.DT_DOUBLE
    bad = endpoint.refused(TFS + "Predict", request, predict_pb2.PredictResponse)
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT and "DT_FLOAT" in bad.details()


def test_grpc_requests_are_counted_in_metrics(endpoint):
    endpoint.infer(fp32_request())
    text = endpoint.http.get("/metrics").text
    assert 'protocol="grpc-v2",status="200",version="v1.0.0"' in text


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (b"\xff\xff\xff", "not a valid inference.ModelInferRequest message"),
        (pb.ModelInferRequest(model_name="digits"), "exactly one input tensor, got 0"),
        (shaped([1, 28, 28, 1], b"\x00" * 100), "100 bytes of binary data"),
        (shaped([-1, 28, 28, 1], b""), "'shape' must be a list of 1 to 8 integers"),
        (shaped([300, 28, 28, 1], b""), "at most 256 rows"),
        (shaped([1, 28, 28, 1], np.full(784, np.inf, "<f4").tobytes()), "inf is not finite"),
        (shaped([1], b"\x09\x00\x00\x00ab", "BYTES"), "declares 9 bytes, only 2 remain"),
        (shaped([1], b"", "INT64"), "datatype must be FP32, UINT8 or BYTES"),
        (pb.ModelInferRequest(model_name="x" * 1000), "model name must be 1 to 128"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_bad_input_is_invalid_argument_naming_it(endpoint, request_, message):
    refused = endpoint.refused(V2 + "ModelInfer", request_)
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.details()
    assert message in refused.details()


def test_a_message_over_the_body_limit_is_refused_by_grpc(endpoint):
    refused = endpoint.refused(
        V2 + "ModelInfer", shaped([1], b"\x00" * (33 * 1024 * 1024), "BYTES")
    )
    assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


ALLOWED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.PERMISSION_DENIED,
}
floats = st.floats(allow_nan=True, allow_infinity=True, width=32)
tensors = st.fixed_dictionaries(
    {
        "name": st.text(max_size=20),
        "datatype": st.sampled_from(["FP32", "UINT8", "BYTES", "INT8", "", "fp32"])
        | st.text(max_size=8),
        "shape": st.lists(st.integers(-(2**63), 2**63 - 1) | st.integers(0, 30), max_size=10),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    name=st.sampled_from(["digits", "", "nope", "surface_line1"]) | st.text(max_size=200),
    version=st.sampled_from(["", "v1.0.0", "9000", "v9.9.9", "-1"]) | st.text(max_size=40),
    inputs=st.lists(tensors, max_size=3),
    raw=st.lists(st.binary(max_size=4000), max_size=3),
    fp32=st.lists(floats, max_size=900),
    uints=st.lists(st.integers(0, 2**32 - 1), max_size=900),
    blobs=st.lists(st.binary(max_size=64), max_size=4),
    wanted=st.lists(st.sampled_from(["probabilities", "label", "", "x"]), max_size=3),
    garbage=st.none() | st.binary(max_size=200),
)
def test_fuzzed_requests_never_get_an_internal_error(
    endpoint, name, version, inputs, raw, fp32, uints, blobs, wanted, garbage
):
    request = pb.ModelInferRequest(model_name=name, model_version=version)
    for i, tensor in enumerate(inputs):
        added = request.inputs.add(
            name=tensor["name"], datatype=tensor["datatype"], shape=tensor["shape"]
        )
        if not raw and i == 0:
            added.contents.fp32_contents.extend(fp32)
            added.contents.uint_contents.extend(uints)
            added.contents.bytes_contents.extend(blobs)
    request.raw_input_contents.extend(raw)
    for output in wanted:
        request.outputs.add(name=output)
    sent = garbage if garbage is not None else request
    try:
        endpoint.call(V2 + "ModelInfer", sent, pb.ModelInferResponse)
    except grpc.RpcError as error:
        assert error.code() in ALLOWED, (error.code(), error.details())
        assert len(error.details()) < 600


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    name=st.sampled_from(["digits", "", "nope"]) | st.text(max_size=50),
    version=st.none() | st.integers(-(2**63), 2**63 - 1),
    label=st.sampled_from(["", "production", "candidate", "x"]),
    signature=st.sampled_from(["", "serving_default", "predict"]),
    inputs=st.dictionaries(
        st.text(max_size=10),
        st.fixed_dictionaries(
            {
                "dtype": st.integers(0, 30),
                "dims": st.lists(st.integers(-5, 2**40) | st.integers(0, 30), max_size=6),
                "content": st.binary(max_size=4000),
                "floats": st.lists(floats, max_size=900),
                "strings": st.lists(st.binary(max_size=64), max_size=3),
            }
        ),
        max_size=2,
    ),
    garbage=st.none() | st.binary(max_size=200),
)
def test_fuzzed_tf_serving_predicts_never_get_an_internal_error(
    endpoint, name, version, label, signature, inputs, garbage
):
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    request.model_spec.version_label = label
    if version is not None:
        request.model_spec.version.value = version
    for key, tensor in inputs.items():
        proto = request.inputs[key]
        proto.dtype = tensor["dtype"]
        proto.tensor_shape.dim.extend([proto.tensor_shape.Dim(size=d) for d in tensor["dims"]])
        proto.tensor_content = tensor["content"]
        proto.float_val.extend(tensor["floats"])
        proto.string_val.extend(tensor["strings"])
    sent = garbage if garbage is not None else request
    try:
        endpoint.call(TFS + "Predict", sent, predict_pb2.PredictResponse)
    except grpc.RpcError as error:
        assert error.code() in ALLOWED, (error.code(), error.details())
        assert len(error.details()) < 600
