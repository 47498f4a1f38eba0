"""What the model repository's `main` holds of each workflow: pure helpers over the text
of `dvc.lock` and over a tree's files.

`main` holds each workflow's latest registered version (`ModelRepo.publish`): its data
and model files and its `dvc.lock` stages, taken from the version's commit. Every
workflow main declares stages for has its lock entries there, so a plain `git clone` of
the repository followed by `dvc pull` fetches every latest version and warns about none.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from modelfleet.naming import data_dir

LOCK_SCHEMA = "2.0"


def stage_workflow(stage: str) -> str:
    """`train@digits` -> `digits` (the foreach item of a rendered stage)."""
    return stage.partition("@")[2]


def merge_lock(ours: str | None, theirs: str, workflow: str) -> str:
    """`ours` with `workflow`'s stages replaced by those in `theirs` (other workflows'
    entries kept as they are)."""
    base = (yaml.safe_load(ours) if ours else None) or {}
    taken = yaml.safe_load(theirs) or {}
    stages = {
        name: entry
        for name, entry in (base.get("stages") or {}).items()
        if stage_workflow(name) != workflow
    }
    stages.update(
        (name, entry)
        for name, entry in (taken.get("stages") or {}).items()
        if stage_workflow(name) == workflow
    )
    doc = {"schema": taken.get("schema", LOCK_SCHEMA), "stages": dict(sorted(stages.items()))}
    return yaml.safe_dump(doc, sort_keys=False)


def workflows_with_data(tree: Path, workflows: list[str]) -> list[str]:
    """Those of `workflows` whose training data the tree tracks (`data/<wf>/train.dvc`):
    the ones whose stages a commit of this tree can declare."""
    return [wf for wf in workflows if (tree / f"{data_dir(wf, 'train')}.dvc").exists()]
