"""A plain `git clone` of the model repository works with DVC and GTO as they are: `dvc
pull` exits 0 and fetches the released version, `dvc metrics show` answers with nothing on
stderr, `gto show` lists the version. Also right after `workflow add` of a workflow that
has no version yet (its stages are declared once it has data).

A started platform's state without its daemons: the registry migrated, the model
repository initialised; one workflow trained and registered through the pipeline steps.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import Session

from modelfleet.host.environment import environment
from modelfleet.host.ports import free_port
from modelfleet.naming import model_file
from tests.conftest import create_database, drop_database
from tests.helpers.user_folder import write_user_folder
from tests.integration.conftest import write_fleet

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BIN = Path(sys.executable).parent
WORKFLOW = "digits"


@pytest.fixture(scope="module")
def home(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from modelfleet.config import load_fleet
    from modelfleet.registry.db import forget_engines, migrate
    from modelfleet.settings import get_settings
    from modelfleet.versioning.repo import ModelRepo

    home = tmp_path_factory.mktemp("plain-clone-home")
    url = create_database(pg_server, "mf_plain_clone")
    migrate(url)
    env = {
        "MODELFLEET_HOME": str(home),
        "MODELFLEET_DATABASE_URL": url,
        "MODELFLEET_CONFIG": str(write_fleet(home / "workflows.yaml", epochs=2)),
        "MODELFLEET_AIRFLOW_PORT": str(free_port()),  # no Airflow answers there
    }
    with environment({**env}):
        try:
            settings = get_settings()
            ModelRepo(settings.repo, settings.dvc_remote).init(load_fleet())
            yield home
        finally:
            forget_engines()
            drop_database(url)


@pytest.fixture(scope="module")
def released(home: Path) -> dict:
    """`digits` trained on one month and registered (v1.0.0, the candidate)."""
    from modelfleet.pipeline import data, release, training
    from modelfleet.pipeline.context import RunContext
    from modelfleet.registry.entities import RunRef

    ctx = RunContext(WORKFLOW, "2026-01", RunRef(f"retrain__{WORKFLOW}", "it-plain-clone"))
    dataset = data.validate(ctx, data.snapshot(ctx)["dataset_version_id"])
    training_run_id = training.train(ctx, dataset["dataset_version_id"])["training_run_id"]
    training.evaluate(ctx, training_run_id)
    return release.register(ctx, training_run_id)


def sh(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A command as a user types it (dvc and gto from this environment, no platform env)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELFLEET_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def clone(home: Path, target: Path) -> Path:
    done = sh(target.parent, "git", "clone", "-q", str(home / "repo"), str(target))
    assert done.returncode == 0, done.stderr
    return target


def recorded_sha256(version: str) -> str:
    from modelfleet.registry import db
    from modelfleet.registry.store import versions

    with Session(db.engine()) as session:
        return versions.get_version(session, WORKFLOW, version).artifact_sha256


def assert_plain_dvc_and_gto_work(repo: Path) -> None:
    pulled = sh(repo, "dvc", "pull")
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert "WARNING" not in pulled.stderr, pulled.stderr
    weights = repo / model_file(WORKFLOW)
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == recorded_sha256("v1.0.0")

    metrics = sh(repo, "dvc", "metrics", "show", "--json")
    assert metrics.returncode == 0 and metrics.stderr == "", metrics.stderr
    shown = json.dumps(json.loads(metrics.stdout))
    assert "://" not in shown  # no URL poses as a metric
    assert "accuracy" in shown
    plain = sh(repo, "dvc", "metrics", "show")
    assert plain.returncode == 0 and plain.stderr == "", plain.stderr

    gto = sh(repo, "gto", "show", "--json")
    assert gto.returncode == 0, gto.stderr
    assert json.loads(gto.stdout)[WORKFLOW]["version"] == "v1.0.0"


def test_a_plain_clone_pulls_the_released_version(home: Path, released: dict, tmp_path: Path):
    assert released["version"] == "v1.0.0"
    assert_plain_dvc_and_gto_work(clone(home, tmp_path / "clone"))


def test_a_plain_clone_after_workflow_add_still_pulls(home: Path, released: dict, tmp_path: Path):
    folder = write_user_folder(tmp_path / "photos", per_class=4, odd_formats=False)
    added = subprocess.run(
        [str(BIN / "modelfleet"), "workflow", "add", "photos", "--from", str(folder.root)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    repo = clone(home, tmp_path / "clone")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert "photos" in params["workflows"]  # declared in the fleet, with no version yet
    assert_plain_dvc_and_gto_work(repo)

    # A version's tag holds what `dvc repro` needs: its stages are declared there.
    tagged = sh(repo, "git", "checkout", "-q", f"{WORKFLOW}@v1.0.0")
    assert tagged.returncode == 0, tagged.stderr
    status = sh(repo, "dvc", "status", f"train@{WORKFLOW}")
    assert status.returncode == 0, status.stderr
