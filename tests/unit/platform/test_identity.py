"""The actor of a CLI command: `--actor`, else MODELFLEET_ACTOR, else the login name,
else `uid:<n>`; one printable line of bounded length. (The real CLI under a uid with no
passwd entry: tests/integration/test_cli_any_uid.py.)"""

from __future__ import annotations

import getpass
import os
import pwd
from pathlib import Path

import pytest

from modelfleet.errors import ConfigError, PlatformError
from modelfleet.host import identity


def no_login_name() -> str:
    raise KeyError(f"getpwuid(): uid not found: {os.getuid()}")


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELFLEET_ACTOR", raising=False)
    monkeypatch.setenv("LOGNAME", "alice")


def test_the_explicit_actor_comes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELFLEET_ACTOR", "ops-bot")
    assert identity.actor("  bob ") == "bob"
    assert identity.actor() == "ops-bot"
    monkeypatch.setenv("MODELFLEET_ACTOR", "  ")  # blank counts as unset
    assert identity.actor() == "alice"


def test_without_a_login_name_the_uid_names_the_actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(getpass, "getuser", no_login_name)
    assert identity.login_name() is None
    assert identity.actor() == f"uid:{os.getuid()}"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "--actor is empty"),
        ("eve\n2026-01-01 INFO forged", "holds control characters"),
        ("eve\x1b[2K", "holds control characters"),
        ("x" * 101, "--actor is 101 characters long; at most 100"),
    ],
)
def test_an_unusable_actor_is_refused_with_its_source(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        identity.actor(value)


def test_a_bad_configured_actor_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELFLEET_ACTOR", "eve\tx")
    with pytest.raises(ConfigError, match="MODELFLEET_ACTOR='eve\\\\tx' holds control"):
        identity.actor()


def test_the_embedded_postgres_check_names_both_fixes(monkeypatch: pytest.MonkeyPatch) -> None:
    identity.require_passwd_entry("the embedded PostgreSQL")  # this uid has one: no error

    def missing(uid: int) -> pwd.struct_passwd:
        raise KeyError(uid)

    monkeypatch.setattr(pwd, "getpwuid", missing)
    with pytest.raises(PlatformError) as raised:
        identity.require_passwd_entry("the embedded PostgreSQL")
    message = str(raised.value)
    assert f"uid {os.geteuid()} has no passwd entry" in message
    assert "/etc/passwd" in message and "MODELFLEET_DATABASE_URL" in message


def test_the_cli_lends_a_login_name_to_the_tools_it_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """DVC and Airflow call getuser() themselves: `main` sets LOGNAME before a command
    runs, in the form the actor takes."""
    from modelfleet.cli import main

    monkeypatch.setenv("MODELFLEET_HOME", str(tmp_path))
    monkeypatch.delenv("LOGNAME")
    for name in ("USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: no_login_name())

    assert main(["status"]) == 0

    assert os.environ["LOGNAME"] == f"uid:{os.getuid()}"
    assert identity.actor() == f"uid:{os.getuid()}"
