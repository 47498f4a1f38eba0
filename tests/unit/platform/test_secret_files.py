"""Every secret and password file is 0600 (its folder 0700): the API keys under
`secrets/`, Airflow's passwords and our Airflow secrets, whoever wrote them, from their
first byte and again at every `modelfleet up`."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelfleet.host.secret_files import restrict, write_secret
from modelfleet.orchestration.airflow_env import airflow_env, airflow_secret_files, passwords_file
from modelfleet.platform.up import restrict_secrets
from modelfleet.registry.api_keys import key_file, key_files, secrets_dir
from modelfleet.settings import Settings, get_settings

DB = "postgresql+psycopg2://postgres@127.0.0.1:5432/modelfleet"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture()
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("MODELFLEET_HOME", str(tmp_path))
    previous = os.umask(0o022)  # the usual umask: what a plain open() leaves 0644
    try:
        yield get_settings()
    finally:
        os.umask(previous)


def test_airflow_secrets_and_passwords_are_written_0600(settings: Settings) -> None:
    passwords_file(settings).parent.mkdir(parents=True)
    passwords_file(settings).write_text("{}")  # an older install's, 0644
    assert mode(passwords_file(settings)) == 0o644

    airflow_env(settings, DB)

    for path in airflow_secret_files(settings)[:2]:
        assert mode(path) == 0o600, path
    assert '"admin"' in passwords_file(settings).read_text()


def test_write_secret_never_writes_through_a_planted_link(settings: Settings) -> None:
    elsewhere = settings.home / "elsewhere.txt"
    elsewhere.write_text("untouched")
    target = settings.home / "secrets" / "app.key"
    target.parent.mkdir()
    (target.parent / ".app.key.tmp").symlink_to(elsewhere)

    write_secret(target, "mf_key\n")

    assert elsewhere.read_text() == "untouched"
    assert target.read_text() == "mf_key\n" and mode(target) == 0o600
    assert not target.is_symlink()


def test_restrict_narrows_files_and_leaves_links_alone(settings: Settings) -> None:
    wide = settings.home / "wide.key"
    wide.write_text("k")
    wide.chmod(0o644)
    outside = settings.home / "outside.txt"
    outside.write_text("x")
    outside.chmod(0o644)
    link = settings.home / "link.key"
    link.symlink_to(outside)

    assert restrict([wide, link, settings.home / "missing.key"]) == [wide]
    assert mode(wide) == 0o600
    assert mode(outside) == 0o644  # a link is never followed


@pytest.mark.slow
def test_up_narrows_the_passwords_file_airflow_wrote_and_old_key_files(
    settings: Settings,
) -> None:
    """Airflow's simple auth manager writes the passwords file itself (with the umask's
    mode) when it lacks a user; `up` narrows it after the api-server starts and at
    every start."""
    pw_file = passwords_file(settings)
    pw_file.parent.mkdir(parents=True)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(settings.airflow_home),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(pw_file),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    init = (
        "import os; os.umask(0o022)\n"
        "from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import "
        "SimpleAuthManager\n"
        "SimpleAuthManager().init()\n"
    )
    result = subprocess.run([sys.executable, "-c", init], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert mode(pw_file) == 0o644  # what Airflow left
    old_key = key_file(settings, "modelfleet-admin")
    old_key.parent.mkdir(mode=0o755)
    old_key.write_text("mf_old\n")

    restrict_secrets(settings)

    assert mode(pw_file) == 0o600
    assert key_files(settings) == [old_key] and mode(old_key) == 0o600
    assert mode(secrets_dir(settings)) == 0o700


def test_platform_key_files_are_created_0600_in_a_0700_folder(
    settings: Settings, database_url: str
) -> None:
    from modelfleet.config import load_fleet
    from modelfleet.registry.api_keys import ensure_platform_apps

    os.umask(0)  # not even a permissive umask widens them
    ensure_platform_apps(settings, load_fleet(), database_url)

    assert len(key_files(settings)) == 3
    for path in key_files(settings):
        assert mode(path) == 0o600, path
    assert mode(secrets_dir(settings)) == 0o700
