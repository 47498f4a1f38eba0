"""`workflow add` on bad input, and a change that fails half way: a clear error naming
the path, and nothing half-written: no file in workflows.d, no commit or change in the
model repository, no row in the registry. Also `workflow remove` of a shipped workflow,
and `workflow list`.

A started platform's state without its daemons: the registry migrated, the model
repository initialised, the platform's applications created.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.host.environment import environment
from modelfleet.host.ports import free_port
from tests.conftest import create_database, drop_database
from tests.helpers.s3 import S3Server
from tests.helpers.user_folder import write_user_folder
from tests.integration.conftest import write_fleet

pytestmark = [pytest.mark.integration]

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def home(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from modelfleet.config import load_fleet
    from modelfleet.registry.api_keys import ensure_platform_apps
    from modelfleet.registry.db import forget_engines, migrate
    from modelfleet.settings import get_settings
    from modelfleet.versioning.repo import ModelRepo

    home = tmp_path_factory.mktemp("workflow-errors-home")
    url = create_database(pg_server, "mf_wf_errors")
    migrate(url)
    env = {
        "MODELFLEET_HOME": str(home),
        "MODELFLEET_DATABASE_URL": url,
        "MODELFLEET_CONFIG": str(write_fleet(home / "workflows.yaml")),
        "MODELFLEET_AIRFLOW_PORT": str(free_port()),  # no Airflow answers there
    }
    with environment({**env}):
        try:
            settings = get_settings()
            ModelRepo(settings.repo, settings.dvc_remote).init(load_fleet())
            ensure_platform_apps(settings, load_fleet(), url)
            yield home
        finally:
            forget_engines()
            drop_database(url)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(BIN / "modelfleet"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )
    print(done.stdout, done.stderr)
    return done


def state(home: Path) -> tuple[list[str], str, str, int, str]:
    """workflows.d's files, the repository's HEAD and status, the registry's workflow
    events and grants: what a failed add must leave as it was."""
    from modelfleet.registry.tables import GrantRow, WorkflowEventRow

    repo = home / "repo"

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True).stdout

    user_dir = home / "workflows.d"
    files = sorted(p.name for p in user_dir.glob("*")) if user_dir.exists() else []
    url = os.environ["MODELFLEET_DATABASE_URL"]
    with Session(sa.create_engine(url, poolclass=sa.pool.NullPool)) as session:
        events = session.scalar(sa.select(sa.func.count()).select_from(WorkflowEventRow))
        grants = repr(
            session.execute(
                sa.select(GrantRow.application_id, GrantRow.workflow_id, GrantRow.pin).order_by(
                    GrantRow.application_id, GrantRow.workflow_id
                )
            ).all()
        )
    return files, git("rev-parse", "HEAD"), git("status", "--porcelain"), events or 0, grants


def refused(home: Path, source: str, expected: str, **options: str) -> str:
    before = state(home)
    extra = [arg for key, value in options.items() for arg in (f"--{key}", value)]
    done = cli("workflow", "add", "photos", "--from", source, *extra)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "modelfleet: error:" in done.stderr and expected in done.stderr, done.stderr
    assert [f for f in state(home)[0] if f.endswith(".yaml")] == []
    assert state(home)[1:] == before[1:]
    return done.stderr


def test_an_empty_folder_is_refused_naming_it(home: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    refused(home, str(tmp_path / "empty"), f"{tmp_path / 'empty'}: no month folders")


def test_a_missing_folder_is_refused_naming_it(home: Path, tmp_path: Path) -> None:
    refused(home, str(tmp_path / "nowhere"), f"{tmp_path / 'nowhere'}: no such folder")


def test_a_single_class_is_refused(home: Path, tmp_path: Path) -> None:
    folder = write_user_folder(tmp_path / "one", per_class=4, odd_formats=False)
    for part in ("2026-01", "2026-02", "test"):
        shutil.rmtree(folder.root / part / "flower")
    refused(home, str(folder.root), "at least 2 label folders")


def test_a_label_folder_without_images_is_refused_naming_it(home: Path, tmp_path: Path) -> None:
    folder = write_user_folder(tmp_path / "hollow", per_class=4, odd_formats=False)
    for image in (folder.root / "2026-02" / "flower").iterdir():
        image.unlink()
    (folder.root / "2026-02" / "flower" / "notes.txt").write_text("not an image")
    stderr = refused(home, str(folder.root), "label folders with no images")
    assert f"{folder.root / '2026-02'}" in stderr


def test_a_test_set_sharing_files_with_the_months_is_refused(home: Path, tmp_path: Path) -> None:
    folder = write_user_folder(tmp_path / "leaky", per_class=4, odd_formats=False)
    shutil.copy(
        folder.root / "2026-01" / "china" / "china_000.jpg",
        folder.root / "test" / "china" / "copy.jpg",
    )
    stderr = refused(home, str(folder.root), "test files are also in the months")
    assert "test/china/copy.jpg" in stderr


def test_an_unreachable_store_is_refused_naming_the_url(
    home: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    url = s3_server.url("photos")
    refused(home, url, f"cannot list {url}")


def test_a_store_without_credentials_is_refused_naming_the_url(
    home: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    url = s3_server.url("photos")
    refused(home, url, f"cannot list {url}")


def test_a_repository_commit_that_fails_leaves_nothing(home: Path, tmp_path: Path) -> None:
    folder = write_user_folder(tmp_path / "fine", per_class=4, odd_formats=False)
    before = state(home)
    lock = home / "repo" / ".git" / "index.lock"  # git refuses to commit while it exists
    lock.write_text("")
    try:
        done = cli("workflow", "add", "photos", "--from", str(folder.root))
    finally:
        lock.unlink()
    assert done.returncode == 1 and "index.lock" in done.stderr, done.stderr
    assert state(home) == before


def test_a_shipped_workflow_is_not_removed(home: Path) -> None:
    before = state(home)
    done = cli("workflow", "remove", "digits", "--yes")
    assert done.returncode == 1
    assert "workflow 'digits' ships with the platform" in done.stderr
    assert state(home) == before


def test_add_then_list_then_remove_without_airflow(home: Path, tmp_path: Path) -> None:
    folder = write_user_folder(tmp_path / "kept", per_class=4, odd_formats=False)
    before = state(home)
    added = cli("workflow", "add", "kept", "--from", str(folder.root), "--test-fraction", "0.2")
    assert added.returncode == 1  # a test/ folder and a test fraction: one or the other
    assert "keep one" in added.stderr and state(home) == before

    added = cli("workflow", "add", "kept", "--from", str(folder.root))
    assert added.returncode == 0, added.stderr
    assert "Airflow does not answer" in added.stdout
    listed = cli("workflow", "list", "--json")
    assert '"name": "kept"' in listed.stdout and "kept.yaml" in listed.stdout
    again = cli("workflow", "add", "kept", "--from", str(folder.root))
    assert again.returncode == 1 and "declared already" in again.stderr

    removed = cli("workflow", "remove", "kept", "--yes")
    assert removed.returncode == 0, removed.stderr
    files, head, status, events, grants = state(home)
    assert [f for f in files if f.endswith(".yaml")] == [] and status == before[2]
    assert events == before[3] + 2 and grants == before[4]  # added, archived; grants back
    assert head != before[1]  # two commits: the add and the archive
