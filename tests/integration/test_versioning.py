"""DVC + GTO versioning on a real model repository: concurrent registration from
per-run workspaces, restoring any version with `dvc pull`, and rebuilding one
bit for bit with `modelfleet reproduce`."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import Session

from modelfleet.cli import main
from modelfleet.naming import model_file
from modelfleet.pipeline import data, release, training
from modelfleet.pipeline.context import RunContext
from modelfleet.registry.entities import RunRef
from modelfleet.registry.store import versions
from modelfleet.versioning.commands import run

pytestmark = [pytest.mark.integration, pytest.mark.slow]
# Workflows no other module of the session releases: their first tags are v1.0.0.
WORKFLOWS = ["surface_coil", "weld_robot", "caps_line2"]


def context(workflow: str, month: str) -> RunContext:
    return RunContext(workflow, month, RunRef(f"retrain__{workflow}", f"it-{workflow}-{month}"))


def train_candidate(ctx: RunContext) -> int:
    dataset = data.validate(ctx, data.snapshot(ctx)["dataset_version_id"])
    training_run_id = training.train(ctx, dataset["dataset_version_id"])["training_run_id"]
    training.evaluate(ctx, training_run_id)
    return training_run_id


def recorded(platform, workflow: str, version: str):
    from modelfleet.registry import db

    with Session(db.engine(platform.database_url)) as session:
        return versions.get_version(session, workflow, version)


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], repo).check().stdout


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def registered(platform):
    """Three workflows trained at once in their own workspaces, registered at once."""
    contexts = [context(workflow, "2026-01") for workflow in WORKFLOWS]
    with ThreadPoolExecutor(len(contexts)) as pool:
        training_runs = list(pool.map(train_candidate, contexts))
    barrier = threading.Barrier(len(contexts))

    def register(ctx: RunContext, training_run_id: int) -> dict:
        barrier.wait()
        return release.register(ctx, training_run_id)

    with ThreadPoolExecutor(len(contexts)) as pool:
        results = list(pool.map(register, contexts, training_runs))
    return dict(zip(WORKFLOWS, results, strict=True))


def test_concurrent_registrations_lose_no_tag_and_each_tag_holds_its_model(
    platform, registered, capsys
):
    repo = platform.home / "repo"
    assert {r["tag"] for r in registered.values()} == {f"{wf}@v1.0.0" for wf in WORKFLOWS}
    tags = set(git(repo, "tag", "--list").split())
    cache = repo / ".dvc" / "cache" / "files" / "md5"
    for workflow, result in registered.items():
        assert result["tag"] in tags
        commit = git(repo, "rev-list", "-n", "1", result["tag"]).strip()
        assert commit == result["commit"]
        lock = yaml.safe_load(git(repo, "show", f"{commit}:dvc.lock"))  # parses: not torn
        (out,) = [o for o in lock["stages"][f"train@{workflow}"]["outs"]
                  if o["path"] == model_file(workflow)]  # fmt: skip
        weights = cache / out["md5"][:2] / out["md5"][2:]
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
        assert digest == recorded(platform, workflow, "v1.0.0").artifact_sha256
    shown = json.loads(run(["gto", "show", "--json"], repo).check().stdout)
    assert {shown[wf]["stage"]["candidate"] for wf in WORKFLOWS} == {"v1.0.0"}

    # Postgres is authoritative; `doctor` notices when the GTO mirror disagrees.
    assert main(["doctor"]) == 0
    run(
        ["gto", "assign", "surface_coil", "--version", "v1.0.0", "--stage", "production"], repo
    ).check()
    assert main(["doctor"]) == 1
    assert "surface_coil: production is None in Postgres, v1.0.0 in GTO" in (
        capsys.readouterr().out
    )
    release.deploy(context("surface_coil", "2026-01"), "v1.0.0")
    assert main(["doctor"]) == 0


def test_any_version_is_restored_by_dvc_pull_and_rebuilt_bit_for_bit(
    platform, registered, tmp_path, capsys
):
    workflow = WORKFLOWS[0]
    second = context(workflow, "2026-02")
    assert release.register(second, train_candidate(second))["version"] == "v1.1.0"

    # Only the git repository and the DVC remote survive.
    shutil.rmtree(platform.home / "workspaces")
    shutil.rmtree(platform.home / "repo" / ".dvc" / "cache")
    run(["git", "worktree", "prune"], platform.home / "repo").check()

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(platform.home / "repo"), str(clone))
    for version in ("v1.0.0", "v1.1.0"):
        git(clone, "checkout", "-q", f"{workflow}@{version}")
        run(["dvc", "pull", f"train@{workflow}"], clone).check()
        weights = clone / model_file(workflow)
        assert hashlib.sha256(weights.read_bytes()).hexdigest() == (
            recorded(platform, workflow, version).artifact_sha256
        )

    capsys.readouterr()
    assert main(["reproduce", f"{workflow}@v1.0.0"]) == 0
    out = capsys.readouterr().out
    assert f"{workflow}@v1.0.0: match" in out
    assert recorded(platform, workflow, "v1.0.0").artifact_sha256 in out
    assert not any((platform.home / "workspaces" / "_reproduce").iterdir())
