"""The end-of-year checks: the registry agrees with itself, versions restore, one rebuilds.

- GTO (tags and stages in the model repository) agrees with Postgres for every
  workflow: `doctor`'s checks, which compare both sides version by version.
- A random sample of versions restores from the DVC remote alone: a scratch
  workspace at the version's tag with an empty cache of its own, `dvc pull` of the
  weights, and their sha256 against the one Postgres recorded.
- One version rebuilds bit for bit from its tag (`modelfleet reproduce`).
"""

from __future__ import annotations

import random
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from modelfleet.datasets.manifest import sha256_file
from modelfleet.errors import ModelfleetError
from modelfleet.naming import model_file
from modelfleet.registry import db
from modelfleet.registry.entities import ModelVersion
from modelfleet.registry.store import versions
from modelfleet.settings import Settings
from modelfleet.versioning.doctor import diagnose
from modelfleet.versioning.repo import open_repo
from modelfleet.versioning.reproduce import Reproduction, reproduce


@dataclass(frozen=True)
class Restored:
    tag: str
    recorded_sha256: str
    pulled_sha256: str | None
    error: str | None = None

    @property
    def match(self) -> bool:
        return self.pulled_sha256 == self.recorded_sha256


@dataclass
class Verification:
    workflows_compared: int
    disagreements: list[str]
    restored: list[Restored] = field(default_factory=list)
    reproduction: Reproduction | None = None
    reproduction_error: str | None = None

    @property
    def ok(self) -> bool:
        return (
            not self.disagreements
            and all(r.match for r in self.restored)
            and self.reproduction is not None
            and self.reproduction.match
        )


def registered(session: Session, workflows: list[str]) -> list[ModelVersion]:
    return [v for wf in workflows for v in versions.list_versions(session, wf)]


def restore_from_remote(version: ModelVersion) -> Restored:
    """`dvc pull` the version's weights into a scratch workspace with an empty cache."""
    repo = open_repo()
    scratch = Path(tempfile.mkdtemp(prefix=f"restore-{version.workflow}-"))
    workspace_path = scratch / "workspace"
    # An own, empty cache: the bytes can only come from the remote.
    workspace = repo.add_workspace(workspace_path, ref=version.tag, cache_dir=scratch / "cache")
    try:
        target = model_file(version.workflow)
        (workspace.path / target).unlink(missing_ok=True)
        workspace.pull([target])
        pulled = sha256_file(workspace.path / target)
        return Restored(version.tag, version.artifact_sha256, pulled)
    except ModelfleetError as exc:  # reported as a failed restore
        return Restored(version.tag, version.artifact_sha256, None, f"{exc}"[-500:])
    finally:
        repo.remove_workspace(workspace_path)
        shutil.rmtree(scratch, ignore_errors=True)


def verify_year(
    settings: Settings, workflows: list[str], *, sample: int = 5, seed: int = 2026
) -> Verification:
    repo = open_repo()
    with Session(db.engine()) as session:
        disagreements = diagnose(settings, session, repo)
        candidates = registered(session, workflows)
    result = Verification(len(workflows), disagreements)
    picked = random.Random(seed).sample(candidates, min(sample, len(candidates)))
    for version in picked:
        print(f"[year] restore {version.tag} from the DVC remote", flush=True)
        result.restored.append(restore_from_remote(version))
    if picked:
        tag = picked[0].tag
        print(f"[year] reproduce {tag} bit for bit", flush=True)
        try:
            result.reproduction = reproduce(settings, tag)
        except ModelfleetError as exc:  # recorded in the report
            result.reproduction_error = f"{exc}"[-1000:]
    return result
