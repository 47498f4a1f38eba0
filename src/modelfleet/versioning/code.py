"""The code the DVC stages run, as a file the stages depend on.

The stages run the installed `modelfleet` package, which lives outside the model
repository. `code.json` at the repository root names the package commit and a
sha256 over the source of every module the stages import, so a code change makes
`dvc repro` re-run them and a tag records which code built its model.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

CODE_FILE = "code.json"
PACKAGE = Path(__file__).resolve().parents[1]
# What `python -m modelfleet.training.stage` imports to validate, train and evaluate.
STAGE_MODULES = (
    "config",
    "errors.py",
    "imaging.py",
    "months.py",
    "settings",
    "datasets",
    "training",
    "validation",
    "naming.py",
    "zoo",
)


def code_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in _source_files():
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def code_record() -> dict[str, Any]:
    from modelfleet.versioning.commands import code_sha

    return {"modules_sha256": code_fingerprint(), "commit": code_sha()}


def write_code_record(repo: Path) -> None:
    (repo / CODE_FILE).write_text(json.dumps(code_record(), indent=1) + "\n")


def _source_files() -> list[Path]:
    files: list[Path] = []
    for name in STAGE_MODULES:
        target = PACKAGE / name
        files += sorted(target.rglob("*.py")) if target.is_dir() else [target]
    return files
