"""Monitoring fixtures without a model: a registered version (its run chain only), its
reference statistics, and prediction_log rows drawn to match that reference or drifted
from it, bulk-loaded with COPY as the endpoint's logger writes them."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.registry.entities import NewDatasetVersion, NewTrainingRun, NewVersion, RunRef
from modelfleet.registry.monitoring_tables import ReferenceStatsRow
from modelfleet.registry.store import runs, versions

RUN = RunRef(dag_id="retrain__test", run_id="manual__monitoring", code_sha="abc123")
LOG_COLUMNS = (
    "workflow_id, model_version_id, source, image_sha256, predicted, confidence, "
    "brightness, contrast, height, width, channels, embedding, at"
)


def add_version(session: Session, workflow: str, version: str, month: str = "2026-01") -> int:
    """A model_version row of `workflow` (with the dataset and training run it needs)."""
    dataset = runs.add_dataset_version(
        session,
        NewDatasetVersion(
            workflow=workflow,
            month=month,
            run=RUN,
            train_manifest_sha256="a" * 64,
            holdout_manifest_sha256="b" * 64,
            test_manifest_sha256="c" * 64,
            train_dvc_md5="d.dir",
            n_train=10,
            n_holdout=2,
            n_test=5,
            months=[month],
        ),
    )
    training = runs.add_training_run(
        session,
        NewTrainingRun(
            workflow=workflow,
            dataset_version_id=dataset,
            architecture="lenet",
            params={},
            artifact_sha256="e" * 64,
            fit_seconds=1.0,
            run=RUN,
        ),
    )
    number = int(version.lstrip("v").split(".")[0]) * 10**6 + int(version.split(".")[1]) * 10**3
    return versions.add_version(
        session,
        NewVersion(
            workflow=workflow,
            version=version,
            version_int=number,
            tag=f"{workflow}@{version}",
            training_run_id=training,
            artifact_sha256="e" * 64,
            repo_commit="f" * 40,
            run=RUN,
        ),
    ).id


def reference(classes: list[str], shares: list[float], seed: int = 99) -> dict[str, Any]:
    """Reference statistics as monitoring.reference stores them: training inputs of
    brightness ~ N(0.5, 0.05), contrast ~ N(0.2, 0.03), embeddings ~ N(0, 1)."""
    rng = np.random.default_rng(seed)
    return {
        "brightness": rng.normal(0.5, 0.05, 2000).round(5).tolist(),
        "contrast": rng.normal(0.2, 0.03, 2000).round(5).tolist(),
        "class_shares": dict(zip(classes, shares, strict=True)),
        "embedding_sample": rng.normal(0, 1, (500, 8)).round(5).tolist(),
        "shapes": [[28, 28, 1]],
    }


def add_reference(session: Session, version_id: int, stats: dict[str, Any]) -> None:
    session.add(ReferenceStatsRow(model_version_id=version_id, stats=stats))


def log_predictions(
    engine: sa.Engine,
    workflow_id: int,
    version_id: int,
    n: int,
    *,
    classes: list[str],
    shares: list[float],
    first: datetime,
    last: datetime,
    darken: float = 0.0,
    seed: int = 1,
    shas: list[str] | None = None,
) -> None:
    """COPY `n` rows spread evenly over [first, last]; `darken` lowers the brightness
    (a drifted camera); `shas` gives the first rows those image sha256s."""
    rng = np.random.default_rng(seed)
    predicted = rng.choice(classes, size=n, p=shares)
    confidence = rng.uniform(0.7, 1.0, n)
    brightness = rng.normal(0.5 - darken, 0.05, n)
    contrast = rng.normal(0.2, 0.03, n)
    embedding = rng.normal(0, 1, (n, 8))
    step = (last - first) / max(n - 1, 1)
    buffer = io.StringIO()
    for i in range(n):
        sha = shas[i] if shas and i < len(shas) else "\\N"
        vector = "{" + ",".join(f"{v:.4f}" for v in embedding[i]) + "}"
        at = (first + step * i).isoformat()
        buffer.write(
            f"{workflow_id}\t{version_id}\tapi\t{sha}\t{predicted[i]}\t{confidence[i]:.4f}\t"
            f"{brightness[i]:.4f}\t{contrast[i]:.4f}\t28\t28\t1\t{vector}\t{at}\n"
        )
    buffer.seek(0)
    raw = engine.raw_connection()
    try:
        cursor: Any = raw.cursor()  # psycopg2's: copy_expert is not in the DBAPI types
        cursor.copy_expert(f"COPY prediction_log ({LOG_COLUMNS}) FROM STDIN", buffer)
        cursor.close()
        raw.commit()
    finally:
        raw.close()


def hours_ago(now: datetime, hours: float) -> datetime:
    return now - timedelta(hours=hours)
