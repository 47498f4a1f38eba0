"""The endpoint never writes the model repository: its admin routes move the Postgres
alias, and the stage mirror in the warm runner copies the move into GTO within 10 s.
Until it has, `doctor` calls it "mirror pending", not a disagreement. Real endpoint over
HTTP, real Postgres, real git and GTO, a real warm runner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from modelfleet.registry import db
from modelfleet.registry.store import versions
from modelfleet.settings import WARM_SOCKET_ENV, get_settings
from modelfleet.versioning.commands import run
from modelfleet.versioning.doctor import Diagnosis, examine
from modelfleet.versioning.repo import ModelRepo
from tests.integration.conftest import all_versions, promote
from tests.integration.test_retrain_dag import gto_versions, production

pytestmark = [pytest.mark.integration, pytest.mark.slow]
BIN = Path(sys.executable).parent
MIRROR_WITHIN_S = 10.0


def git_refs(repo: Path) -> str:
    """Every ref of the repository with what it points at: any write shows here."""
    return run(["git", "for-each-ref", "--format=%(refname) %(objectname)"], repo).check().stdout


def production_tags(repo: Path) -> dict[str, str]:
    """digits' production stage tags and their messages."""
    out = run(
        [
            "git",
            "for-each-ref",
            "refs/tags/digits#production#*",
            "--format=%(refname:short)%09%(contents:subject)",
        ],
        repo,
    ).check()
    return dict(line.split("\t", 1) for line in out.stdout.splitlines() if "\t" in line)


def doctor(platform) -> Diagnosis:
    settings = get_settings()
    repo = ModelRepo(settings.repo, settings.dvc_remote)
    with Session(db.engine(platform.database_url)) as session:
        return examine(settings, session, repo)


def last_move(platform):
    with Session(db.engine(platform.database_url)) as session:
        return versions.alias_history(session, "digits")[-1]


@pytest.fixture
def warm_runner(served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A warm runner for the platform (its stage mirror included); yields its log."""
    folder = tmp_path_factory.mktemp("warm")
    log = folder / "warm.log"
    env = {**os.environ, WARM_SOCKET_ENV: str(folder / "warm.sock")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "modelfleet"), "warm-runner", "--socket", str(folder / "warm.sock")],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 240
        while "stage mirror: following" not in log.read_text():
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "no stage mirror in 240 s: " + log.read_text()
            time.sleep(0.5)
        yield log
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def wait_for_new_tag(repo: Path, before: dict[str, str], timeout_s: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        added = {t: m for t, m in production_tags(repo).items() if t not in before}
        if added:
            return added
        time.sleep(0.1)
    return {}


def test_admin_moves_postgres_and_the_warm_runner_mirrors_it_into_gto(served, request):
    repo = served.home / "repo"
    original = production(served)
    target = next(v for v in all_versions(served) if v != original)
    assert gto_versions(served)["digits"]["stage"]["production"] == original

    # 1. No mirror runs: the admin route answers, Postgres moves, git does not.
    refs = git_refs(repo)
    moved = promote(served, served.endpoint_url, target, "mirror test: promote")
    assert moved.status_code == 200, moved.text
    assert moved.json() == {"workflow": "digits", "from": original, "to": target}
    assert production(served) == target
    assert git_refs(repo) == refs, "the endpoint process wrote the model repository"
    found = doctor(served)
    assert any(
        line.startswith(f"digits: production is {target} in Postgres") and "mirror pending" in line
        for line in found.mirror_pending
    ), found
    assert not [line for line in found.disagreements if "digits: production" in line], found
    said = subprocess.run([str(BIN / "modelfleet"), "doctor"], capture_output=True, text=True)
    assert said.returncode == 0, said.stdout + said.stderr  # pending is not a disagreement
    assert "mirror pending" in said.stdout and "catching up" in said.stdout, said.stdout

    # 2. The warm runner's mirror catches up with the move it missed...
    log = request.getfixturevalue("warm_runner")
    deadline = time.monotonic() + 60
    while gto_versions(served)["digits"]["stage"]["production"] != target:
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)
    assert not [line for line in doctor(served).mirror_pending if "digits: production" in line]

    # 3. ... and follows the next one within 10 s, the tag naming who moved it and why.
    before = production_tags(repo)
    restored = promote(served, served.endpoint_url, original, "mirror test: restore")
    answered = time.monotonic()
    assert restored.status_code == 200, restored.text
    added = wait_for_new_tag(repo, before, MIRROR_WITHIN_S)
    took = time.monotonic() - answered
    assert added, f"no production tag {MIRROR_WITHIN_S}s after the move: {log.read_text()[-3000:]}"
    assert gto_versions(served)["digits"]["stage"]["production"] == original
    (message,) = added.values()
    actor = last_move(served).actor
    assert message == f"digits production: {target} -> {original} by {actor}: mirror test: restore"
    print(f"\nGTO followed the admin route's move in {took:.1f}s")
    found = doctor(served)
    assert not [line for line in found.disagreements if "digits: production" in line], found
    assert not found.mirror_pending, found
