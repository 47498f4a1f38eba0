"""Training curves: the validation curve beside the training curve where the history
has one; older histories (no validation columns) still draw."""

from __future__ import annotations

import numpy as np
from PIL import Image

from modelfleet.training.plots import training_curves
from modelfleet.training.train import _write_history

ORANGE = np.array([255, 127, 14])  # matplotlib's tab:orange: the validation curve


def orange_pixels(png) -> int:
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
    return int((np.abs(rgb - ORANGE).sum(axis=2) < 40).sum())


def test_history_records_validation_and_the_curves_draw_it(tmp_path):
    history = {
        "loss": [1.2, 0.8, 0.5],
        "accuracy": [0.5, 0.7, 0.9],
        "val_loss": [1.3, 0.9, 0.7],
        "val_accuracy": [0.4, 0.6, 0.8],
    }
    _write_history(tmp_path / "history.csv", history)
    lines = (tmp_path / "history.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss,accuracy,val_loss,val_accuracy"
    assert lines[3] == "3,0.500000,0.900000,0.700000,0.800000"
    training_curves(tmp_path / "history.csv", tmp_path / "curves.png", "digits")
    assert orange_pixels(tmp_path / "curves.png") > 100


def test_a_history_without_validation_draws_training_only(tmp_path):
    _write_history(tmp_path / "history.csv", {"loss": [1.0, 0.5], "accuracy": [0.5, 0.8]})
    assert (tmp_path / "history.csv").read_text().splitlines()[1] == "1,1.000000,0.500000,,"
    (tmp_path / "old.csv").write_text("epoch,loss,accuracy\n1,1.0,0.5\n2,0.5,0.8\n")
    for name in ("history", "old"):
        training_curves(tmp_path / f"{name}.csv", tmp_path / f"{name}.png", "digits")
        assert orange_pixels(tmp_path / f"{name}.png") == 0
