"""Score models on the frozen test set and the month's holdout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from modelfleet.config import TrainSpec
from modelfleet.naming import (
    confusion_png,
    curves_png,
    data_dir,
    history_file,
    metrics_file,
)
from modelfleet.training.data import load_split
from modelfleet.training.metrics import classification_metrics
from modelfleet.training.train import load_trained

SPLITS = ("test", "holdout")
_BATCH = 256


def evaluate_candidate(spec: TrainSpec, repo: Path) -> dict[str, Any]:
    """DVC stage `evaluate@<wf>`: metrics of the trained model, written to metrics.json."""
    model = load_trained(spec, repo)
    metrics = _score(lambda x: np.asarray(model(x, training=False)), spec, repo)
    (repo / metrics_file(spec.name)).write_text(json.dumps(metrics, indent=1))
    from modelfleet.training import plots

    plots.confusion_matrix(
        metrics["test"], repo / confusion_png(spec.name), f"{spec.name}: frozen test set"
    )
    plots.training_curves(
        repo / history_file(spec.name), repo / curves_png(spec.name), f"{spec.name}: training"
    )
    return metrics


def score_saved_model(spec: TrainSpec, repo: Path, saved_model: Path) -> dict[str, Any]:
    """Metrics of an exported (e.g. production) SavedModel on the same splits."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(saved_model))
    return _score(lambda x: loaded.serve(tf.constant(x)).numpy(), spec, repo)


def _score(infer: Any, spec: TrainSpec, repo: Path) -> dict[str, Any]:
    results = {}
    for split in SPLITS:
        x, y = load_split(repo / data_dir(spec.name, split), spec)
        probs = np.concatenate([infer(x[i : i + _BATCH]) for i in range(0, len(x), _BATCH)])
        results[split] = classification_metrics(y, probs, spec.classes)
    return results
