"""Reference statistics per version, from its training snapshot: what the monitors test
the live prediction log against (`reference_stats.stats`, the dict monitoring.report reads).

Computed once per version, lazily (the first monitor run that needs it calls
`ensure_reference`): the version's data is restored at its tag in a scratch workspace
(`dvc pull`, as `modelfleet reproduce` does), and its exported SavedModel runs the same
monitored batch function the endpoint runs, so the live and the reference embeddings
are the same projection of the same layer.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from modelfleet.datasets.manifest import read_manifest
from modelfleet.embedding import PROJECTED_DIMS, input_stats
from modelfleet.errors import DataError
from modelfleet.imaging import decode, to_model_input
from modelfleet.naming import Version, data_dir, serving_dir, tag_name
from modelfleet.preprocessing import PreprocessPolicy
from modelfleet.registry import db
from modelfleet.registry.store.monitoring import load_reference, save_reference, version_id
from modelfleet.settings import get_settings
from modelfleet.training.export import SIGNATURE_FILE

EMBEDDING_SAMPLE = 1000  # projected training embeddings kept (the MMD test's reference)
STATS_SAMPLE = 5000  # training images whose brightness and contrast are kept
_BATCH = 256
_SEED = 22


def ensure_reference(workflow: str, version: str) -> dict[str, Any]:
    """The stored reference of `workflow@version`, computed and stored first if missing."""
    with Session(db.engine()) as session:
        vid = version_id(session, workflow, version)
        if vid is None:
            raise DataError(f"{workflow} {version} is not a registered version")
        stored = load_reference(session, vid)
        if stored is not None:
            return stored
    stats = compute_reference(workflow, version)
    with Session(db.engine()) as session, session.begin():
        save_reference(session, vid, stats)
    return stats


def compute_reference(workflow: str, version: str) -> dict[str, Any]:
    """Restore the version's train and test splits at its tag and measure them."""
    from modelfleet.versioning.repo import open_repo

    settings = get_settings()
    semver = Version.parse(version)
    repo = open_repo()
    scratch = settings.workspaces / "_reference" / f"{workflow}-{version}-{uuid.uuid4().hex[:6]}"
    workspace = repo.add_workspace(scratch, ref=tag_name(workflow, semver))
    try:
        splits = ("train", "test")
        workspace.pull([f"{data_dir(workflow, split)}.dvc" for split in splits])
        return reference_from(
            serving_dir(settings.serving_root, workflow, semver),
            workflow,
            version,
            train=scratch / data_dir(workflow, "train"),
            test=scratch / data_dir(workflow, "test"),
        )
    finally:
        repo.remove_workspace(scratch)
        shutil.rmtree(scratch, ignore_errors=True)


def reference_from(
    saved_model: Path, workflow: str, version: str, *, train: Path, test: Path
) -> dict[str, Any]:
    """The reference dict from split folders (manifest + images) and the exported model:
    brightness and contrast of (a sample of) the training images, the predicted class
    shares on the evaluation's test split, a sample of projected training embeddings and
    the model input shape."""
    import tensorflow as tf

    from modelfleet.training.monitored import monitored_infer

    signature = json.loads((saved_model / SIGNATURE_FILE).read_text())
    height, width, channels = (int(d) for d in signature["input_shape"])
    shape = (height, width, channels)
    classes = list(signature["classes"])
    policy = PreprocessPolicy.of_export(signature.get("preprocess"))
    infer, penultimate = monitored_infer(
        tf.saved_model.load(str(saved_model)), shape, workflow, version
    )
    rng = np.random.default_rng(_SEED)

    def images(root: Path, limit: int) -> np.ndarray:
        rows = [row for row in read_manifest(root) if row.decoded]
        if not rows:
            raise DataError(f"{root}: the manifest lists no decodable images")
        if len(rows) > limit:
            rows = [rows[i] for i in sorted(rng.choice(len(rows), limit, replace=False))]
        return np.stack(
            [to_model_input(decode((root / r.path).read_bytes()), shape, policy) for r in rows]
        )

    def run(x: np.ndarray) -> np.ndarray:
        return np.concatenate([infer(x[i : i + _BATCH]) for i in range(0, len(x), _BATCH)])

    trained = images(train, STATS_SAMPLE)
    stats = input_stats(trained)
    sample = trained[rng.choice(len(trained), min(EMBEDDING_SAMPLE, len(trained)), replace=False)]
    embeddings = run(sample)[:, len(classes) : len(classes) + PROJECTED_DIMS]
    predicted = run(images(test, STATS_SAMPLE))[:, : len(classes)].argmax(axis=1)
    counts = Counter(classes[i] for i in predicted)
    return {
        "brightness": [round(float(v), 6) for v in stats[:, 0]],
        "contrast": [round(float(v), 6) for v in stats[:, 1]],
        "class_shares": {c: counts.get(c, 0) / len(predicted) for c in classes},
        "embedding_sample": [[round(float(v), 6) for v in row] for row in embeddings],
        "shapes": [list(shape)],
        "penultimate": penultimate,
        "n_train": len(trained),
        "n_test": len(predicted),
    }
