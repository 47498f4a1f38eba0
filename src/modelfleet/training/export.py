"""Export a trained model in TF Serving layout, atomically."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from modelfleet.config import TrainSpec
from modelfleet.errors import VersioningError
from modelfleet.naming import PARENT_WEIGHTS, Version, model_file, serving_dir
from modelfleet.training.train import load_trained

# Written beside saved_model.pb; TF Serving ignores it, our endpoint reads it.
SIGNATURE_FILE = "modelfleet.json"


def export(spec: TrainSpec, repo: Path, version: str, serving_root: Path) -> Path:
    """Write `<serving_root>/<wf>/<int version>/` (a SavedModel plus signature file).

    The SavedModel is written to a temporary sibling and renamed into place, so
    a reader never sees half a model.
    """
    semver = Version.parse(version)
    final = serving_dir(serving_root, spec.name, semver)
    if final.exists():
        raise VersioningError(f"{final} already exists; versions are immutable")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        model = load_trained(spec, repo)
        model.export(str(tmp / "model"), format="tf_saved_model", verbose=False)
        for item in (tmp / "model").iterdir():
            item.rename(tmp / item.name)
        (tmp / "model").rmdir()
        signature = {
            "workflow": spec.name,
            "version": version,
            "classes": list(spec.classes),
            "input_shape": list(spec.input_shape),
            "architecture": spec.architecture,
            # the endpoint fits images to input_shape as this version was trained
            "preprocess": spec.preprocess.model_dump(mode="json"),
        }
        (tmp / SIGNATURE_FILE).write_text(json.dumps(signature, indent=1))
        # The weights travel along: a later run warm-starts or transfers from them.
        shutil.copyfile(repo / model_file(spec.name), tmp / PARENT_WEIGHTS)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
