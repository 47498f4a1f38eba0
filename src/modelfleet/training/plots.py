"""Per-version pictures: training curves and the confusion matrix (PNG)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers or in Airflow workers
import matplotlib.pyplot as plt


def training_curves(history_csv: Path, out: Path, title: str) -> Path:
    """Loss and accuracy per epoch, from the training history CSV: the training curve
    and, where the history has them (`val_loss`, `val_accuracy`), the validation curve
    beside it on the same axes."""
    with history_csv.open() as handle:
        rows = list(csv.DictReader(handle))
    epochs = [int(r["epoch"]) for r in rows]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(8, 3.2))
    for ax, metric, color in ((loss_ax, "loss", "tab:blue"), (acc_ax, "accuracy", "tab:green")):
        ax.plot(epochs, _column(rows, metric), marker="o", color=color, label="training")
        validation = _column(rows, f"val_{metric}")
        if not all(math.isnan(v) for v in validation):
            ax.plot(
                epochs,
                validation,
                marker="s",
                linestyle="--",
                color="tab:orange",
                label="validation",
            )
            ax.legend(fontsize=8)
        ax.set(title=metric, xlabel="epoch")
    acc_ax.set_ylim(0, 1)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def _column(rows: list[dict[str, str]], name: str) -> list[float]:
    """One column of the history; NaN (no point) where it is absent or empty: older
    histories have no validation columns."""
    return [float(r[name]) if r.get(name) else math.nan for r in rows]


def confusion_matrix(metrics: dict[str, Any], out: Path, title: str) -> Path:
    """Counts per (true, predicted) class on the frozen test set."""
    classes = metrics["classes"]
    matrix = metrics["confusion"]
    size = max(3.5, 0.45 * len(classes) + 1.5)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            ax.text(
                j,
                i,
                str(count),
                ha="center",
                va="center",
                color="white" if count > peak / 2 else "black",
                fontsize=8,
            )
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
