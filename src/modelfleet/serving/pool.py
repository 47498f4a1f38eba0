"""Loaded model versions and the production view, swapped atomically."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from modelfleet.errors import ModelNotFound, ModelNotReady
from modelfleet.serving.batching import Batcher
from modelfleet.training.export import SIGNATURE_FILE
from modelfleet.versioning.naming import Version, serving_dir


@dataclass
class LoadedModel:
    workflow: str
    version: str
    version_int: int
    classes: list[str]
    input_shape: tuple[int, int, int]
    batcher: Batcher = field(repr=False)


def load_version(serving_root: Path, workflow: str, version: Version) -> LoadedModel:
    """Load an exported SavedModel and warm its compiled serving function."""
    import tensorflow as tf

    path = serving_dir(serving_root, workflow, version)
    if not (path / "saved_model.pb").exists():
        raise ModelNotFound(f"model {workflow!r} has no exported version {version} at {path}")
    signature = json.loads((path / SIGNATURE_FILE).read_text())
    loaded = tf.saved_model.load(str(path))

    def infer(batch: np.ndarray) -> np.ndarray:
        # The SavedModel's `serve` signature: a tf.function traced at export time.
        # The closure also keeps `loaded` (which owns the variables) alive.
        return loaded.serve(tf.constant(batch, dtype=tf.float32)).numpy()

    shape = tuple(signature["input_shape"])
    infer(np.zeros((1, *shape), dtype=np.float32))  # warm before anyone is routed here
    return LoadedModel(
        workflow=workflow,
        version=str(version),
        version_int=version.as_int(),
        classes=list(signature["classes"]),
        input_shape=shape,  # type: ignore[arg-type]
        batcher=Batcher(infer),
    )


class ModelPool:
    """Per workflow: the production version plus every other loaded version.

    Readers take a reference to a `LoadedModel`; a swap replaces the dict entry,
    so requests in flight finish on the version they started on.
    """

    def __init__(self, serving_root: Path, known_workflows: set[str]) -> None:
        self.serving_root = serving_root
        self.known = set(known_workflows)
        self._production: dict[str, LoadedModel] = {}
        self._loaded: dict[tuple[str, int], LoadedModel] = {}
        self._lock = threading.Lock()

    def production(self, workflow: str) -> LoadedModel:
        model = self._production.get(workflow)
        if model is not None:
            return model
        if workflow in self.known:
            raise ModelNotReady(f"model {workflow!r} has no production version yet")
        raise ModelNotFound(f"no model named {workflow!r}")

    def version(self, workflow: str, version_int: int) -> LoadedModel:
        key = (workflow, version_int)
        if key not in self._loaded:
            if workflow not in self.known and workflow not in self._production:
                raise ModelNotFound(f"no model named {workflow!r}")
            try:
                semver = Version.from_int(version_int)
            except Exception:
                raise ModelNotFound(f"model {workflow!r} has no version {version_int}") from None
            with self._lock:
                if key not in self._loaded:
                    self._loaded[key] = load_version(self.serving_root, workflow, semver)
        return self._loaded[key]

    def set_production(self, workflow: str, version: str) -> bool:
        """Load (if needed), warm, then swap. Returns whether production changed."""
        current = self._production.get(workflow)
        if current is not None and current.version == version:
            return False
        model = self.version(workflow, Version.parse(version).as_int())
        self._production[workflow] = model
        self.known.add(workflow)
        self._evict(
            workflow, keep={model.version_int} | ({current.version_int} if current else set())
        )
        return True

    def loaded(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for (workflow, _), model in sorted(self._loaded.items()):
            out.setdefault(workflow, []).append(model.version)
        return out

    def _evict(self, workflow: str, keep: set[int]) -> None:
        # Version policy (skeleton): production and the previous production version.
        with self._lock:
            for key in [k for k in self._loaded if k[0] == workflow and k[1] not in keep]:
                del self._loaded[key]
