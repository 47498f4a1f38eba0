"""Train one workflow's candidate model (DVC stage `train@<wf>`)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelfleet.config import TrainSpec
from modelfleet.datasets.manifest import sha256_file
from modelfleet.training.data import load_split
from modelfleet.training.determinism import make_deterministic
from modelfleet.versioning.naming import data_dir, history_file, model_file

if TYPE_CHECKING:
    import keras


def train(spec: TrainSpec, repo: Path) -> dict[str, Any]:
    """Fit the model on `data/<wf>/train`; write the model and its history."""
    make_deterministic(spec.params.seed)
    import keras

    from modelfleet import zoo

    x, y = load_split(repo / data_dir(spec.name, "train"), spec)
    model = zoo.build(spec.architecture, spec.input_shape, len(spec.classes))
    model.compile(
        optimizer=keras.optimizers.Adam(spec.params.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    started = time.perf_counter()
    history = model.fit(
        x, y, epochs=spec.params.epochs, batch_size=spec.params.batch_size, shuffle=True, verbose=2
    )
    fit_seconds = time.perf_counter() - started
    out = repo / model_file(spec.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(out)
    curves = {k: [round(float(v), 6) for v in vals] for k, vals in history.history.items()}
    (repo / history_file(spec.name)).write_text(
        json.dumps({"fit_seconds": round(fit_seconds, 3), "n_train": len(y), **curves}, indent=1)
    )
    return {"artifact_sha256": sha256_file(out), "fit_seconds": fit_seconds, "n_train": len(y)}


def load_trained(spec: TrainSpec, repo: Path) -> keras.Model:
    """Rebuild the architecture from the spec and load the trained weights."""
    from modelfleet import zoo

    model = zoo.build(spec.architecture, spec.input_shape, len(spec.classes))
    model.load_weights(repo / model_file(spec.name))
    return model
