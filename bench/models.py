"""Untrained benchmark models, exported by modelfleet's own code path.

Weights don't matter for speed, so the serving benchmarks build a model from the zoo,
save its initial weights where the training stage would, and run the real exporter:
what gets served is exactly what a release would serve (same SavedModel layout, same
compiled `serve` signature, same signature file).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class BenchKind(NamedTuple):
    """One benchmark model: which zoo family at which input size."""

    architecture: str
    input_shape: tuple[int, int, int]
    num_classes: int


# Architecture names are the zoo's registry keys (modelfleet.zoo.FAMILIES).
KINDS: dict[str, BenchKind] = {
    "lenet": BenchKind("lenet", (28, 28, 1), 10),
    "resnet": BenchKind("resnet", (32, 32, 3), 10),
    # A 224x224x3 model that stays cheap to run, so the wire format shows (bench/protocols.py).
    "lenet224": BenchKind("lenet", (224, 224, 3), 10),
}


def bench_kind(kind: str) -> BenchKind:
    """Look a kind up, with an error that lists the choices."""
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(
            f"unknown bench model {kind!r}; choose one of {', '.join(KINDS)}"
        ) from None


def export_bench_model(kind: str, root: Path, *, name: str | None = None) -> Path:
    """Export an untrained `kind` model under `root/serving`; return its version directory.

    The scratch training repo goes to `root/repo`, the serving tree to `root/serving`, so
    several kinds can share one `root`. The workflow name defaults to the kind; the
    version is always v1.0.0 (served as version integer 1000000).
    """
    import keras

    from modelfleet import zoo
    from modelfleet.config import TrainParams, TrainSpec
    from modelfleet.naming import model_file
    from modelfleet.training.export import export

    spec_kind = bench_kind(kind)
    spec = TrainSpec(
        name=name or kind,
        architecture=spec_kind.architecture,
        classes=tuple(str(i) for i in range(spec_kind.num_classes)),
        input_shape=spec_kind.input_shape,
        params=TrainParams(),
    )
    repo = root / "repo"
    weights = repo / model_file(spec.name)
    weights.parent.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)  # the same "untrained" weights every run
    model = zoo.build(spec.architecture, spec.input_shape, spec_kind.num_classes)
    model.save_weights(weights)
    return export(spec, repo, "v1.0.0", root / "serving")


def load_infer(path: Path | str) -> Callable[[np.ndarray], np.ndarray]:
    """Load an exported version and return its compiled `serve` function on numpy batches.

    This is the call the serving pool makes per batch, so it bounds what any server
    of this model can reach on this machine.
    """
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))

    def infer(batch: np.ndarray) -> np.ndarray:
        # The closure keeps `loaded` (which owns the variables) alive.
        return loaded.serve(tf.constant(batch, dtype=tf.float32)).numpy()

    return infer
