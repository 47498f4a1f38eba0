"""A gRPC client of the in-process endpoint for the serving unit tests: the HTTP test
client beside a real gRPC channel, and the requests the tests build."""

from __future__ import annotations

from typing import Any

import grpc
import numpy as np
import pytest
from fastapi.testclient import TestClient

from modelfleet.serving.grpc import grpc_predict_v2_pb2 as pb
from tests.unit.serving.conftest import KEYS

V2 = "/inference.GRPCInferenceService/"
APP = (("authorization", f"Bearer {KEYS['app']}"),)
ONES = np.ones((2, 28, 28, 1), dtype="<f4")


class Endpoint:
    def __init__(self, http: TestClient, channel: grpc.Channel) -> None:
        self.http = http
        self.channel = channel

    def call(
        self,
        method: str,
        request: Any,
        reply_class: Any,
        metadata: Any = APP,
    ) -> Any:
        stub = self.channel.unary_unary(
            method,
            request_serializer=lambda m: m if isinstance(m, bytes) else m.SerializeToString(),
            response_deserializer=reply_class.FromString,
        )
        return stub(request, metadata=metadata, timeout=30)

    def infer(self, request: pb.ModelInferRequest, **kw: Any) -> pb.ModelInferResponse:
        return self.call(V2 + "ModelInfer", request, pb.ModelInferResponse, **kw)

    def refused(
        self, method: str, request: Any, reply_class: Any = pb.ModelInferResponse, **kw: Any
    ) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as raised:
            self.call(method, request, reply_class, **kw)
        return raised.value


def fp32_request(pixels: np.ndarray = ONES, **kw: Any) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="digits", **kw)
    request.inputs.add(name="image", datatype="FP32", shape=list(pixels.shape))
    request.raw_input_contents.append(pixels.astype("<f4").tobytes())
    return request


def shaped(shape: list[int], raw: bytes, datatype: str = "FP32") -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="digits")
    request.inputs.add(name="image", datatype=datatype, shape=shape)
    request.raw_input_contents.append(raw)
    return request
