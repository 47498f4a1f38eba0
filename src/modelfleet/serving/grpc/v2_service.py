"""KServe V2's GRPCInferenceService: ServerLive, ServerReady, ServerMetadata, ModelReady,
ModelMetadata and ModelInfer. Tensors come in `raw_input_contents` (what tritonclient
sends) or typed contents, and go through the HTTP route's checks (`v2_tensors`);
outputs go back in `raw_output_contents`, as Triton answers. Any other method of the
service (Triton's statistics, repository, streaming) is UNIMPLEMENTED: gRPC answers so
for a method no handler declares."""

from __future__ import annotations

from typing import Any

import grpc

from modelfleet import __version__
from modelfleet.errors import BadRequest
from modelfleet.serving.grpc import grpc_predict_v2_pb2 as pb
from modelfleet.serving.grpc.calls import Call, Shared, unary
from modelfleet.serving.v2_tensors import (
    InputTensor,
    described,
    infer_outputs,
    metadata,
    requested_outputs,
)

SERVICE = "inference.GRPCInferenceService"
PROTOCOL = "grpc-v2"


def handlers(shared: Shared) -> grpc.GenericRpcHandler:
    service = shared.service

    async def server_live(_: pb.ServerLiveRequest, call: Call) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=True)

    async def server_ready(_: pb.ServerReadyRequest, call: Call) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=shared.ready())

    async def server_metadata(_: pb.ServerMetadataRequest, call: Call) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(name="modelfleet", version=__version__, extensions=[])

    async def model_ready(request: pb.ModelReadyRequest, call: Call) -> pb.ModelReadyResponse:
        await call.model(request.name, version=request.version or None)
        return pb.ModelReadyResponse(ready=True)

    async def model_metadata(
        request: pb.ModelMetadataRequest, call: Call
    ) -> pb.ModelMetadataResponse:
        model = await call.model(request.name, version=request.version or None)
        described_ = metadata(service, model)
        tensors = pb.ModelMetadataResponse.TensorMetadata
        return pb.ModelMetadataResponse(
            name=described_["name"],
            versions=described_["versions"],
            platform=described_["platform"],
            inputs=[tensors(**t) for t in described_["inputs"]],
            outputs=[tensors(**t) for t in described_["outputs"]],
        )

    async def model_infer(request: pb.ModelInferRequest, call: Call) -> pb.ModelInferResponse:
        call.inference = request.model_name
        model = await call.model(request.model_name, version=request.model_version or None)
        wanted = requested_outputs([o.name for o in request.outputs] or None)
        outputs = await infer_outputs(service, model, input_tensor(request), wanted)
        reply = pb.ModelInferResponse(
            model_name=model.workflow, model_version=model.version, id=request.id
        )
        for output in outputs:
            reply.outputs.add(name=output.name, datatype=output.datatype, shape=output.shape)
            reply.raw_output_contents.append(output.raw())
        return reply

    methods: dict[str, tuple[type[Any], Any]] = {
        "ServerLive": (pb.ServerLiveRequest, server_live),
        "ServerReady": (pb.ServerReadyRequest, server_ready),
        "ServerMetadata": (pb.ServerMetadataRequest, server_metadata),
        "ModelReady": (pb.ModelReadyRequest, model_ready),
        "ModelMetadata": (pb.ModelMetadataRequest, model_metadata),
        "ModelInfer": (pb.ModelInferRequest, model_infer),
    }
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {name: unary(kind, fn, shared, PROTOCOL) for name, (kind, fn) in methods.items()},
    )


def input_tensor(request: pb.ModelInferRequest) -> InputTensor:
    """The request's one input, from its raw contents or its typed contents."""
    if len(request.inputs) != 1:
        raise BadRequest(f"'inputs' must hold exactly one input tensor, got {len(request.inputs)}")
    tensor = request.inputs[0]
    what = described(tensor.name)
    shape, datatype = list(tensor.shape), tensor.datatype
    raw = request.raw_input_contents
    if raw:
        if len(raw) != 1:
            raise BadRequest(f"'raw_input_contents' must hold one entry per input, got {len(raw)}")
        if tensor.HasField("contents"):
            raise BadRequest(f"{what}: give 'contents' or 'raw_input_contents', not both")
        return InputTensor(what, datatype, shape, raw=raw[0])
    contents = tensor.contents
    if datatype == "BYTES":
        return InputTensor(what, datatype, shape, blobs=list(contents.bytes_contents))
    field = "uint_contents" if datatype == "UINT8" else "fp32_contents"
    return InputTensor(what, datatype, shape, data=list(getattr(contents, field)))
