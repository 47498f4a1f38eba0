"""TF Serving's gRPC PredictionService: Predict and GetModelMetadata, from the protos of
`tensorflow-serving-api` (importing them imports TensorFlow: this module is imported
only inside an endpoint worker, which has TensorFlow loaded anyway). Classify, Regress
and MultiInference are UNIMPLEMENTED (no handler declares them).

Inputs: one TensorProto, DT_FLOAT in the model's scale, DT_UINT8 pixels (divided by
255, as V2's UINT8) or DT_STRING encoded images, through the V2 tensor checks; the
values in `tensor_content` or the typed field (no broadcasting of a single value).
"""

from __future__ import annotations

from typing import Any

import grpc
import numpy as np
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, model_pb2, predict_pb2

from modelfleet.errors import BadRequest
from modelfleet.serving.grpc.calls import Call, Shared, unary
from modelfleet.serving.pool import LoadedModel
from modelfleet.serving.service import shown
from modelfleet.serving.v2_tensors import InputTensor, input_batch

SERVICE = "tensorflow.serving.PredictionService"
PROTOCOL = "grpc-tfserving"
SIGNATURE = "serving_default"
_DATATYPES = {types_pb2.DT_FLOAT: "FP32", types_pb2.DT_UINT8: "UINT8", types_pb2.DT_STRING: "BYTES"}


def handlers(shared: Shared) -> grpc.GenericRpcHandler:
    service = shared.service

    async def predict(request: Any, call: Call) -> Any:
        call.inference = request.model_spec.name
        model = await _model(call, request.model_spec)
        if len(request.inputs) != 1:
            raise BadRequest(
                f"'inputs' must hold exactly one tensor (the model's {model.input_name!r}), "
                f"got {len(request.inputs)}"
            )
        unknown = set(request.output_filter) - {model.output_name}
        if unknown:
            raise BadRequest(
                f"output_filter may name {model.output_name!r} only, got "
                f"{shown(repr(sorted(unknown)))}"
            )
        ((name, proto),) = request.inputs.items()
        batch = await input_batch(service, model, input_tensor(name, proto))
        probs = await service.infer(model, batch)
        reply = predict_pb2.PredictResponse(model_spec=_spec(model))
        reply.outputs[model.output_name].CopyFrom(_float_tensor(probs))
        return reply

    async def get_model_metadata(request: Any, call: Call) -> Any:
        model = await _model(call, request.model_spec)
        if list(request.metadata_field) != ["signature_def"]:
            raise BadRequest(
                "metadata_field must be ['signature_def'], got "
                f"{shown(repr(list(request.metadata_field)))}"
            )
        reply = get_model_metadata_pb2.GetModelMetadataResponse(model_spec=_spec(model))
        reply.metadata["signature_def"].Pack(_signatures(model))
        return reply

    methods: dict[str, tuple[type[Any], Any]] = {
        "Predict": (predict_pb2.PredictRequest, predict),
        "GetModelMetadata": (get_model_metadata_pb2.GetModelMetadataRequest, get_model_metadata),
    }
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {name: unary(kind, fn, shared, PROTOCOL) for name, (kind, fn) in methods.items()},
    )


async def _model(call: Call, spec: Any) -> LoadedModel:
    if spec.signature_name not in ("", SIGNATURE):
        raise BadRequest(
            f"signature_name must be {SIGNATURE!r} (or empty), got {shown(spec.signature_name)}"
        )
    if spec.HasField("version") and spec.version_label:
        raise BadRequest("model_spec: give version or version_label, not both")
    version = str(spec.version.value) if spec.HasField("version") else None
    return await call.model(spec.name, version=version, label=spec.version_label or None)


def input_tensor(name: str, proto: Any) -> InputTensor:
    what = f"input {shown(name)}"
    datatype = _DATATYPES.get(proto.dtype)
    if datatype is None:
        raise BadRequest(f"{what}: dtype must be DT_FLOAT, DT_UINT8 or DT_STRING")
    if proto.tensor_shape.unknown_rank:
        raise BadRequest(f"{what}: the tensor needs a known shape")
    shape = [d.size for d in proto.tensor_shape.dim]
    if datatype == "BYTES":
        return InputTensor(what, datatype, shape, blobs=list(proto.string_val))
    if proto.tensor_content:
        return InputTensor(what, datatype, shape, raw=proto.tensor_content)
    values = proto.float_val if datatype == "FP32" else proto.int_val
    return InputTensor(what, datatype, shape, data=list(values))


def _spec(model: LoadedModel) -> Any:
    spec = model_pb2.ModelSpec(name=model.workflow, signature_name=SIGNATURE)
    spec.version.value = model.version_int
    return spec


def _shape(dims: list[int]) -> Any:
    return tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims]
    )


def _float_tensor(values: np.ndarray) -> Any:
    return tensor_pb2.TensorProto(
        dtype=types_pb2.DT_FLOAT,
        tensor_shape=_shape(list(values.shape)),
        tensor_content=values.astype("<f4").tobytes(),
    )


def _signatures(model: LoadedModel) -> Any:
    def info(name: str, dims: list[int]) -> Any:
        return meta_graph_pb2.TensorInfo(
            name=name, dtype=types_pb2.DT_FLOAT, tensor_shape=_shape(dims)
        )

    signature = meta_graph_pb2.SignatureDef(method_name="tensorflow/serving/predict")
    signature.inputs[model.input_name].CopyFrom(info(model.input_name, [-1, *model.input_shape]))
    signature.outputs[model.output_name].CopyFrom(info(model.output_name, [-1, len(model.classes)]))
    return get_model_metadata_pb2.SignatureDefMap(signature_def={SIGNATURE: signature})
