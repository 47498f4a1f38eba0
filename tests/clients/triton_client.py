"""tritonclient against modelfleet's endpoint, run by tests/integration/test_serving_clients.py
in .venv-triton (`make triton-venv`): tritonclient's pins do not fit the platform's lock.

It uses the clients as a Triton user would, with their defaults (set_data_from_numpy sends
binary tensors over HTTP; gRPC sends raw_input_contents), plus HTTP with JSON tensors, and
prints what each answered as one JSON object on stdout.

    python triton_client.py --http 127.0.0.1:8501 --grpc 127.0.0.1:8500 --key mf_... \
        --model digits --image some.png
"""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient


def answered(result: Any) -> dict[str, Any]:
    response = result.get_response()
    version = response["model_version"] if isinstance(response, dict) else response.model_version
    labels = result.as_numpy("label")
    return {
        "version": version,
        "probabilities": result.as_numpy("probabilities").tolist(),
        "labels": [v.decode() if isinstance(v, bytes) else str(v) for v in labels.tolist()],
    }


def inputs(module: Any, pixels: np.ndarray, image: bytes, binary: bool | None) -> list[Any]:
    """A batch of pixels (FP32), and a batch of one encoded image (BYTES)."""
    tensor = module.InferInput("image", list(pixels.shape), "FP32")
    encoded = module.InferInput("encoded_image", [1], "BYTES")
    blob = np.array([image], dtype=np.object_)
    if binary is None:  # the client's defaults
        tensor.set_data_from_numpy(pixels)
        encoded.set_data_from_numpy(blob)
    else:  # JSON: modelfleet reads a BYTES element in JSON as base64 (raw bytes in binary)
        tensor.set_data_from_numpy(pixels, binary_data=binary)
        as_text = base64.b64encode(image).decode() if not binary else image
        encoded.set_data_from_numpy(np.array([as_text], dtype=np.object_), binary_data=binary)
    return [tensor, encoded]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", required=True)
    parser.add_argument("--grpc", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--image", type=Path, required=True)
    parser.add_argument("--shape", default="28,28,1")
    args = parser.parse_args()
    shape = [int(d) for d in args.shape.split(",")]
    pixels = np.linspace(0, 1, 2 * int(np.prod(shape)), dtype=np.float32).reshape(2, *shape)
    image = args.image.read_bytes()
    headers = {"Authorization": f"Bearer {args.key}"}
    out: dict[str, Any] = {}

    http = httpclient.InferenceServerClient(url=args.http)
    out["http_live"] = http.is_server_live(headers=headers)
    out["http_metadata"] = http.get_model_metadata(args.model, headers=headers)["name"]
    for name, binary in (("http_json", False), ("http_binary", None)):
        pixel_in, image_in = inputs(httpclient, pixels, image, binary)
        requested = (
            [
                httpclient.InferRequestedOutput(n, binary_data=False)
                for n in ("probabilities", "label")
            ]
            if binary is False
            else None  # the default: every output, in binary
        )
        out[name] = answered(http.infer(args.model, [pixel_in], outputs=requested, headers=headers))
        out[name + "_image"] = answered(
            http.infer(args.model, [image_in], outputs=requested, headers=headers)
        )

    grpc = grpcclient.InferenceServerClient(url=args.grpc)
    metadata = {"authorization": f"Bearer {args.key}"}
    out["grpc_live"] = grpc.is_server_live(headers=metadata)
    out["grpc_metadata"] = grpc.get_model_metadata(args.model, headers=metadata).name
    pixel_in, image_in = inputs(grpcclient, pixels, image, None)
    out["grpc"] = answered(grpc.infer(args.model, [pixel_in], headers=metadata))
    out["grpc_image"] = answered(grpc.infer(args.model, [image_in], headers=metadata))
    try:
        grpc.infer(args.model, [pixel_in], headers={"authorization": "Bearer mf_wrong"})
    except Exception as exc:  # tritonclient's InferenceServerException
        out["grpc_wrong_key"] = str(getattr(exc, "status", lambda: "")())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
