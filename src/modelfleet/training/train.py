"""Train one workflow's candidate model (DVC stage `train@<wf>`).

A run starts from scratch, from this workflow's production weights
(`warm_start: production`), or from another workflow's production convolutional
base, frozen under a new head (`warm_start: transfer`). The parent, if one was
available, lies in `models/<wf>/parent/` (a DVC dependency).
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelfleet.config import TrainSpec
from modelfleet.datasets.manifest import sha256_file
from modelfleet.errors import DataError, ModelfleetError
from modelfleet.naming import (
    PARENT_INFO,
    PARENT_WEIGHTS,
    data_dir,
    history_file,
    model_file,
    parent_dir,
    train_info_file,
)
from modelfleet.training.data import load_split
from modelfleet.training.determinism import library_versions, make_deterministic
from modelfleet.training.metrics import loss_and_accuracy

if TYPE_CHECKING:
    import keras


def parent_info(spec: TrainSpec, repo: Path) -> dict[str, Any] | None:
    """The parent this run uses, or None (no parent configured, or none released yet)."""
    info_path = repo / parent_dir(spec.name) / PARENT_INFO
    if spec.warm_start == "none" or not info_path.exists():
        return None
    info = json.loads(info_path.read_text())
    return info if info.get("version") else None


def build_model(
    spec: TrainSpec, parent: dict[str, Any] | None, parent_weights: Path | None = None
) -> keras.Model:
    """The architecture for `spec`: its own family, or a transferred base plus a new head.

    With `parent_weights`, the parent's weights are loaded (warm start or donor base).
    """
    import keras

    from modelfleet import zoo

    if spec.warm_start != "transfer" or parent is None or spec.parent is None:
        model = zoo.build(spec.architecture, spec.input_shape, len(spec.classes))
        if parent is not None and parent_weights is not None:
            _load(model, parent_weights, spec)
        return model
    donor = zoo.build(spec.parent.architecture, spec.parent.input_shape, spec.parent.num_classes)
    if parent_weights is not None:
        _load(donor, parent_weights, spec)
    base = keras.Model(donor.input, donor.get_layer("features").output, name="transferred_base")
    base.trainable = False
    outputs = keras.layers.Dense(len(spec.classes), activation="softmax", name="predictions")(
        base.output
    )
    return keras.Model(base.input, outputs, name=f"{spec.parent.architecture}_transfer")


def _load(model: keras.Model, weights: Path, spec: TrainSpec) -> None:
    try:
        model.load_weights(weights)
    except ValueError as exc:
        raise ModelfleetError(
            f"{spec.name}: the parent weights do not fit the architecture (did the class set "
            f"or architecture change? that needs a new MAJOR version from scratch): {exc}"
        ) from None


def train(spec: TrainSpec, repo: Path) -> dict[str, Any]:
    """Fit on `data/<wf>/train`; write the weights, the history and the run info."""
    make_deterministic(spec.params.seed)
    import keras

    x, y = load_split(repo / data_dir(spec.name, "train"), spec)
    parent = parent_info(spec, repo)
    model = build_model(spec, parent, repo / parent_dir(spec.name) / PARENT_WEIGHTS)
    if parent is not None:
        print(f"starting from {parent['workflow']}@{parent['version']} ({spec.warm_start})")
    model.compile(
        optimizer=keras.optimizers.Adam(spec.params.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    snapshots = EpochWeights()
    started = time.perf_counter()
    history = model.fit(
        x,
        y,
        epochs=spec.params.epochs,
        batch_size=spec.params.batch_size,
        shuffle=True,
        verbose=2,
        callbacks=[snapshots.callback(keras)],
    )
    fit_seconds = time.perf_counter() - started
    out = repo / model_file(spec.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(out)
    # Scored after the weights are saved: the validation curve never touches training.
    scores = snapshots.validation_history(model, validation_split(spec, repo), spec)
    _write_history(repo / history_file(spec.name), {**history.history, **scores})
    info = {
        "fit_seconds": round(fit_seconds, 3),
        "n_train": len(y),
        "parent": parent,
        "libraries": library_versions(),
    }
    (repo / train_info_file(spec.name)).write_text(json.dumps(info, indent=1))
    return {"artifact_sha256": sha256_file(out), **info}


class EpochWeights:
    """The weights after each epoch, kept to score the validation curve once `fit` is
    done. Keras's own `validation_data` scores inside `fit` and changes the trained
    bits (measured: another sha256 for the same seed), which would stop every version
    trained without it from reproducing; reading the weights changes nothing."""

    def __init__(self) -> None:
        self.epochs: list[list[Any]] = []

    def callback(self, keras: Any) -> Any:
        epochs = self.epochs

        class Keep(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                epochs.append(self.model.get_weights())

        return Keep()

    def validation_history(
        self, model: keras.Model, split: tuple[Any, Any] | None, spec: TrainSpec
    ) -> dict[str, list[float]]:
        """val_loss and val_accuracy per epoch (none without a validation split). Leaves
        `model` with its final weights."""
        if split is None or not self.epochs:
            return {}
        import numpy as np

        vx, vy = split
        size = spec.params.batch_size
        scores: dict[str, list[float]] = {"val_loss": [], "val_accuracy": []}
        final = model.get_weights()
        for weights in self.epochs:
            model.set_weights(weights)
            # The model called batch by batch, not `predict`: on a month's holdout its
            # set-up (a traced function, an iterator, callbacks) costs more than scoring
            # (measured: LeNet, 8 epochs of 60 images, 0.44 s with predict, 0.13 s so).
            probs = np.concatenate(
                [
                    np.asarray(model(vx[i : i + size], training=False))
                    for i in range(0, len(vx), size)
                ]
            )
            loss, accuracy = loss_and_accuracy(vy, probs)
            scores["val_loss"].append(loss)
            scores["val_accuracy"].append(accuracy)
        model.set_weights(final)
        return scores


def validation_split(spec: TrainSpec, repo: Path) -> tuple[Any, Any] | None:
    """The month's holdout, scored per epoch for the validation curve only (no early
    stopping or model selection reads it). None where it is missing or empty."""
    holdout = repo / data_dir(spec.name, "holdout")
    try:
        return load_split(holdout, spec) if holdout.is_dir() else None
    except DataError:  # every holdout image quarantined: curves without validation
        return None


HISTORY_COLUMNS = ("loss", "accuracy", "val_loss", "val_accuracy")


def _write_history(path: Path, history: dict[str, list[float]]) -> None:
    """Per epoch: training loss and accuracy, and validation's where it ran (else empty)."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["epoch", *HISTORY_COLUMNS])
        for epoch in range(len(history["loss"])):
            values = [history.get(name, [])[epoch : epoch + 1] for name in HISTORY_COLUMNS]
            writer.writerow([epoch + 1, *(f"{v[0]:.6f}" if v else "" for v in values)])


def load_trained(spec: TrainSpec, repo: Path) -> keras.Model:
    """Rebuild the architecture this run trained and load its weights."""
    model = build_model(spec, parent_info(spec, repo))
    model.load_weights(repo / model_file(spec.name))
    return model
