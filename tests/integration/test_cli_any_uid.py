"""Every `modelfleet` command starts under a uid with no passwd entry (as Kubernetes and
OpenShift run containers), and `modelfleet up` with the embedded PostgreSQL fails at once
with the fix in its message.

The real CLI runs as a subprocess under such a uid (`setpriv`), with no USER or LOGNAME.
It keeps one capability, CAP_DAC_READ_SEARCH (read any file), only because this
machine's Python lives under /root (mode 0700); a container's image is readable anyway.
Everything it writes goes to a folder that uid owns.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from modelfleet.settings import CHECKOUT

BIN = CHECKOUT / ".venv" / "bin"


def _uid_without_passwd_entry() -> int:
    for uid in range(54321, 60000):
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid
    raise AssertionError("every uid from 54321 has a passwd entry")


UID = _uid_without_passwd_entry()
SETPRIV = [
    "setpriv",
    f"--reuid={UID}",
    f"--regid={UID}",
    "--clear-groups",
    "--inh-caps=+dac_read_search",
    "--ambient-caps=+dac_read_search",
]


def _can_switch_uid() -> bool:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return False
    probe = subprocess.run([*SETPRIV, "true"], capture_output=True)
    return probe.returncode == 0


pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not _can_switch_uid(), reason="needs root and setpriv to switch uid"),
]


@pytest.fixture()
def home() -> Iterator[Path]:
    """A folder the uid owns, outside pytest's 0700 temporary root: git checks access
    with access(2), which ignores capabilities for a uid other than 0."""
    home = Path(tempfile.mkdtemp(prefix="modelfleet-any-uid-"))
    os.chown(home, UID, UID)
    yield home
    shutil.rmtree(home, ignore_errors=True)


def as_nobody(home: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`modelfleet *argv` under UID: no passwd entry, no USER or LOGNAME."""
    base = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(home),
        "MODELFLEET_HOME": str(home / "var"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    return subprocess.run(
        [*SETPRIV, str(BIN / "modelfleet"), *argv],
        env={**base, **env},
        cwd=home,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_uid_really_has_no_login_name(home: Path) -> None:
    probe = subprocess.run(
        [*SETPRIV, str(BIN / "python"), "-c", "import getpass; getpass.getuser()"],
        env={"HOME": str(home)},
        capture_output=True,
        text=True,
    )
    assert probe.returncode != 0 and "getpwuid" in probe.stderr


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["versions", "--help"], ["rollback", "--help"], ["apps", "grant", "--help"]],
)
def test_help_starts(home: Path, argv: list[str]) -> None:
    result = as_nobody(home, *argv)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage: modelfleet" in result.stdout


@pytest.mark.slow
def test_zoo_runs(home: Path) -> None:
    result = as_nobody(home, "zoo", "--input-shape", "28", "28", "1", "--classes", "3")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "lenet" in result.stdout


def test_apps_record_the_uid_or_the_configured_actor(home: Path, database_url: str) -> None:
    app = f"any-uid-{uuid.uuid4().hex[:6]}"
    db = {"MODELFLEET_DATABASE_URL": database_url}

    created = as_nobody(home, "apps", "create", app, "--grant", "digits", **db)
    assert created.returncode == 0, created.stderr[-2000:]
    granted = as_nobody(
        home,
        "apps",
        "grant",
        app,
        "digits=candidate",
        "--reason",
        "r",
        **db,
        MODELFLEET_ACTOR="ops-bot",
    )
    assert granted.returncode == 0, granted.stderr[-2000:]
    listed = as_nobody(home, "apps", "list", "--json", **db)
    assert listed.returncode == 0, listed.stderr[-2000:]
    [listed_app] = [a for a in json.loads(listed.stdout) if a["name"] == app]
    assert listed_app["grants"] == {"digits": "candidate"}
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        created_by, updated_by = conn.execute(
            sa.text(
                "SELECT a.created_by, g.updated_by FROM application a "
                "JOIN application_grant g ON g.application_id = a.id WHERE a.name = :n"
            ),
            {"n": app},
        ).one()
    engine.dispose()
    assert created_by == f"cli:uid:{UID}"
    assert updated_by == "cli:ops-bot"


def test_an_actor_with_a_newline_is_refused(home: Path, database_url: str) -> None:
    result = as_nobody(
        home,
        "apps",
        "grant",
        "nobody-app",
        "digits",
        "--reason",
        "r",
        "--actor",
        "alice\n2026-01-01 forged",
        MODELFLEET_DATABASE_URL=database_url,
    )
    assert result.returncode == 1
    assert "--actor='alice\\n2026-01-01 forged' holds control characters" in result.stderr


def test_status_runs(home: Path) -> None:
    result = as_nobody(home, "status")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "endpoint" in result.stdout


def test_up_with_the_embedded_postgres_fails_at_once_naming_the_fix(home: Path) -> None:
    result = as_nobody(home, "up")

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1  # one line, no traceback
    assert f"uid {UID} has no passwd entry" in result.stderr
    assert "/etc/passwd" in result.stderr and "MODELFLEET_DATABASE_URL" in result.stderr
    assert not (home / "var" / "pg").exists()  # failed before initdb, not by it


@pytest.mark.slow
def test_dvc_and_airflow_get_a_login_name_as_up_lends_it(home: Path) -> None:
    """With MODELFLEET_DATABASE_URL, `up` runs under such a uid: DVC (its site cache) and
    Airflow (job records) call getuser(), and the CLI lends them `LOGNAME=uid:<n>` as
    `main` does, then `up` passes it to every process it starts (platform_env)."""
    script = (
        "import os\n"
        "from modelfleet.host.identity import login_env\n"
        "os.environ.update(login_env())\n"  # what cli.main does before any command
        "from modelfleet.config import load_fleet\n"
        "from modelfleet.platform.up import platform_env\n"
        "from modelfleet.settings import get_settings\n"
        "from modelfleet.versioning.repo import ModelRepo\n"
        "settings = get_settings()\n"
        "ModelRepo(settings.repo, settings.dvc_remote).init(load_fleet())\n"  # git + dvc init
        "env = platform_env(settings, 'postgresql://u@127.0.0.1/x')\n"
        "os.environ.clear(); os.environ.update(env)\n"
        "from airflow.utils.platform import getuser\n"
        "print(getuser())\n"
    )
    result = subprocess.run(
        [*SETPRIV, str(BIN / "python"), "-c", script],
        env={"HOME": str(home), "MODELFLEET_HOME": str(home / "var"), "PATH": f"{BIN}:/usr/bin"},
        cwd=home,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == f"uid:{UID}"
    assert (home / "var" / "repo" / ".dvc" / "config").is_file()
