"""The dataplane: resolve the model, decode inputs, infer, shape the answer.

Independent of protocol; `tfserving` adapts it to TF Serving's REST API.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np

from modelfleet.errors import BadRequest, DataError, PayloadTooLarge
from modelfleet.imaging import decode, to_model_input
from modelfleet.serving.pool import LoadedModel, ModelPool

MAX_INSTANCES = 256
MAX_IMAGE_BYTES = 10 * 1024 * 1024


class PredictionService:
    def __init__(self, pool: ModelPool) -> None:
        self.pool = pool

    def resolve(self, workflow: str, version_int: int | None = None) -> LoadedModel:
        if version_int is None:
            return self.pool.production(workflow)
        return self.pool.version(workflow, version_int)

    async def infer_instances(self, model: LoadedModel, instances: list[Any]) -> np.ndarray:
        """Probabilities for TF-Serving-style instances (tensors or {"b64": image})."""
        if not isinstance(instances, list) or not instances:
            raise BadRequest("'instances' must be a non-empty list")
        if len(instances) > MAX_INSTANCES:
            raise PayloadTooLarge(
                f"at most {MAX_INSTANCES} instances per request, got {len(instances)}"
            )
        batch = np.stack([self._instance(model, i, item) for i, item in enumerate(instances)])
        return await model.batcher.submit(batch)

    async def classify_image(
        self, model: LoadedModel, data: bytes, top_k: int = 3
    ) -> dict[str, Any]:
        probs = (await model.batcher.submit(self._image(model, data, "file")[None]))[0]
        order = np.argsort(probs)[::-1][: max(1, min(top_k, len(probs)))]
        ranked = [{"label": model.classes[i], "score": round(float(probs[i]), 6)} for i in order]
        return {"label": ranked[0]["label"], "score": ranked[0]["score"], "top_k": ranked}

    def _instance(self, model: LoadedModel, index: int, item: Any) -> np.ndarray:
        if isinstance(item, dict):
            if set(item) != {"b64"} or not isinstance(item["b64"], str):
                raise BadRequest(
                    f'instance {index}: an object instance must be {{"b64": <base64 image>}}'
                )
            try:
                data = base64.b64decode(item["b64"], validate=True)
            except (binascii.Error, ValueError):
                raise BadRequest(f"instance {index}: 'b64' is not valid base64") from None
            return self._image(model, data, f"instance {index}")
        try:
            array = np.asarray(item, dtype=np.float32)
        except (TypeError, ValueError):
            raise BadRequest(
                f'instance {index}: expected a numeric tensor or {{"b64": ...}}'
            ) from None
        if array.shape != model.input_shape:
            raise BadRequest(
                f"instance {index}: shape {list(array.shape)} does not match the model input "
                f"{list(model.input_shape)}"
            )
        if not np.isfinite(array).all():
            raise BadRequest(f"instance {index}: contains NaN or infinity")
        return array

    def _image(self, model: LoadedModel, data: bytes, what: str) -> np.ndarray:
        if len(data) > MAX_IMAGE_BYTES:
            raise PayloadTooLarge(f"{what}: image of {len(data)} bytes exceeds {MAX_IMAGE_BYTES}")
        try:
            return to_model_input(decode(data), model.input_shape)
        except DataError as exc:
            raise BadRequest(f"{what}: {exc}") from None
