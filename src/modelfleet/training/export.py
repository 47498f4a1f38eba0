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
    final = serving_dir(serving_root, spec.name, Version.parse(version))
    if final.exists():
        raise VersioningError(f"{final} already exists; versions are immutable")
    return _write(spec, repo, final, version)


def export_staged(spec: TrainSpec, repo: Path, staged: Path) -> Path:
    """Write the export to `staged` before its version is known (`publish` names it).
    Registration does this outside the repository lock; a retry finds it done."""
    if (staged / SIGNATURE_FILE).is_file():
        return staged
    return _write(spec, repo, staged, None)


def publish(staged: Path, version: str, serving_root: Path) -> Path:
    """Give a staged export its version and rename it into place (no TensorFlow here)."""
    signature = json.loads((staged / SIGNATURE_FILE).read_text())
    final = serving_dir(serving_root, signature["workflow"], Version.parse(version))
    if final.exists():
        raise VersioningError(f"{final} already exists; versions are immutable")
    (staged / SIGNATURE_FILE).write_text(json.dumps({**signature, "version": version}, indent=1))
    final.parent.mkdir(parents=True, exist_ok=True)
    os.rename(staged, final)
    return final


def _write(spec: TrainSpec, repo: Path, final: Path, version: str | None) -> Path:
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
