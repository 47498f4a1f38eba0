"""`modelfleet reproduce <wf>@vX.Y.Z`: rebuild a version's weights from its tag.

In a scratch workspace at the tag: `dvc pull` the stage's inputs, delete the
weights, `dvc repro --force train@<wf>`, and compare the new weights' sha256 with
the one recorded in Postgres. On a mismatch, say which input differs: the data
or parent (DVC status before rebuilding), the params, the code commit, or the
library versions recorded beside the weights.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from modelfleet.datasets.manifest import sha256_file
from modelfleet.naming import (
    DATA_SPLITS,
    data_dir,
    model_file,
    parent_dir,
    parse_tag,
    train_info_file,
)
from modelfleet.registry import db
from modelfleet.registry.store import runs, versions
from modelfleet.settings import Settings
from modelfleet.training.stage import read_spec
from modelfleet.versioning.code import CODE_FILE, code_fingerprint
from modelfleet.versioning.commands import code_sha, run
from modelfleet.versioning.repo import ModelRepo, open_repo


@dataclass(frozen=True)
class Reproduction:
    tag: str
    recorded_sha256: str
    rebuilt_sha256: str
    differences: list[str] = field(default_factory=list)

    @property
    def match(self) -> bool:
        return self.recorded_sha256 == self.rebuilt_sha256


def reproduce(settings: Settings, tag: str) -> Reproduction:
    workflow, version = parse_tag(tag)
    with Session(db.engine()) as session:
        recorded = versions.get_version(session, workflow, str(version))
        training = runs.get_training_run(session, recorded.training_run_id)
        trained_code, trained_params = training.code_sha, dict(training.params)
    repo = open_repo()
    scratch = settings.workspaces / "_reproduce" / f"{workflow}-{version}-{uuid.uuid4().hex[:6]}"
    workspace = repo.add_workspace(scratch, ref=tag)
    try:
        print(f"{tag}: restoring inputs with dvc pull in {scratch}")
        inputs = [f"{data_dir(workflow, split)}.dvc" for split in DATA_SPLITS]
        inputs.append(f"{parent_dir(workflow)}.dvc")
        workspace.pull([*inputs, f"train@{workflow}"])
        differences = _input_differences(workspace, workflow, trained_params)
        recorded_info = workspace.read_json(train_info_file(workflow))
        code_file = workspace.path / CODE_FILE
        recorded_code = json.loads(code_file.read_text()) if code_file.exists() else {}
        (workspace.path / model_file(workflow)).unlink()
        print(f"{tag}: dvc repro --force train@{workflow}")
        # In new processes: a version trained in the warm runner is rebuilt without it.
        workspace.repro(f"train@{workflow}", force=True, cold=True)
        rebuilt = sha256_file(workspace.path / model_file(workflow))
        result = Reproduction(tag, recorded.artifact_sha256, rebuilt)
        if not result.match:
            differences += _environment_differences(
                recorded_info,
                workspace.read_json(train_info_file(workflow)),
                trained_code,
                recorded_code.get("modules_sha256"),
            )
            if not differences:
                differences.append("no input differs that modelfleet records")
        return Reproduction(tag, recorded.artifact_sha256, rebuilt, differences)
    finally:
        repo.remove_workspace(scratch)


def _input_differences(
    workspace: ModelRepo, workflow: str, trained_params: dict[str, Any]
) -> list[str]:
    """Inputs at the tag that do not match what the stage recorded in dvc.lock."""
    status = run(["dvc", "status", "--json", f"train@{workflow}"], workspace.path)
    changed = json.loads(status.stdout or "{}") if status.ok else {}
    differences = [
        f"{item}: {what}"
        for entries in changed.values()
        for entry in entries
        if isinstance(entry, dict)
        for kind in ("changed deps", "changed outs")
        for item, what in entry.get(kind, {}).items()
        if item != model_file(workflow)
    ]
    params_now = read_spec(workspace.path, workflow).as_params()
    differences += [
        f"param {key}: trained with {trained_params.get(key)!r}, the tag has {value!r}"
        for key, value in params_now.items()
        if key in trained_params and trained_params[key] != value  # older tags lack newer keys
    ]
    return differences


def _environment_differences(
    recorded: dict[str, Any],
    rebuilt: dict[str, Any],
    trained_code: str | None,
    trained_modules: str | None = None,
) -> list[str]:
    differences = []
    if trained_modules and trained_modules != code_fingerprint():
        differences.append("code: the stage modules differ from those in the tag's code.json")
    now = code_sha()
    if trained_code and trained_code != now:
        differences.append(
            f"code: trained at modelfleet commit {trained_code[:12]}, now {now[:12]}"
        )
    before, after = recorded.get("libraries", {}), rebuilt.get("libraries", {})
    differences += [
        f"library {name}: {before.get(name)} then, {after.get(name)} now"
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]
    return differences
