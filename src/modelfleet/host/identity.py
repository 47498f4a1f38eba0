"""Who runs a command, for a uid that may have no passwd entry.

Kubernetes and OpenShift run containers under an arbitrary uid that no passwd entry
names, so `getpass.getuser()` raises there. Nothing in modelfleet may need a login name
to start: the actor recorded in the alias history, grants and approvals comes from
`actor()`, and only what truly needs an entry (the embedded PostgreSQL's `initdb`)
checks for one, up front, with the fix in its message.
"""

from __future__ import annotations

import getpass
import os
import pwd

from modelfleet.errors import ConfigError, PlatformError
from modelfleet.settings import ACTOR_ENV, get_settings

# Stored as "cli:<actor>" in columns of 128 characters.
MAX_ACTOR = 100


def login_name() -> str | None:
    """The login name (LOGNAME, USER, LNAME, USERNAME, else the passwd entry), or None."""
    try:
        return getpass.getuser() or None
    except (KeyError, OSError):  # no variable set and no passwd entry for this uid
        return None


def uid_actor() -> str:
    """The actor of a process with no login name: `uid:<n>`."""
    return f"uid:{os.getuid()}"


def login_env() -> dict[str, str]:
    """`{"LOGNAME": "uid:<n>"}` where this process has no login name, else nothing.

    Tools that modelfleet runs call `getpass.getuser()` and raise without a login name:
    DVC (its site cache folder is keyed by it) and Airflow (job and task records). The
    CLI lends them this one before any command runs, and `up` passes it on to every
    process it starts; a variable is what `getuser()` reads first.
    """
    return {} if login_name() is not None else {"LOGNAME": uid_actor()}


def actor(explicit: str | None = None) -> str:
    """`--actor` if given, else MODELFLEET_ACTOR, else the login name, else `uid:<n>`."""
    if explicit is not None:
        return _checked("--actor", explicit)
    configured = get_settings().actor
    if configured is not None:
        return _checked(ACTOR_ENV, configured)
    return login_name() or uid_actor()


def has_passwd_entry() -> bool:
    """Whether this process's effective uid has a passwd entry (initdb needs one)."""
    try:
        pwd.getpwuid(os.geteuid())
    except KeyError:
        return False
    return True


def require_passwd_entry(what: str) -> None:
    """Fail at once, naming both fixes, where `what` needs a passwd entry."""
    if has_passwd_entry():
        return
    uid = os.geteuid()
    raise PlatformError(
        f"uid {uid} has no passwd entry, and {what} needs one (initdb looks up the user "
        f"that will own the data folder): add an entry for uid {uid} (a line in "
        "/etc/passwd, or nss_wrapper in a container), or set MODELFLEET_DATABASE_URL "
        "to a PostgreSQL server"
    )


def _checked(source: str, value: str) -> str:
    """One printable line of bounded length: it lands in history rows and logs."""
    text = value.strip()
    if not text:
        raise ConfigError(f"{source} is empty; name who acts, e.g. a login or ticket id")
    if not text.isprintable():
        raise ConfigError(f"{source}={text!r} holds control characters; give one plain line")
    if len(text) > MAX_ACTOR:
        raise ConfigError(f"{source} is {len(text)} characters long; at most {MAX_ACTOR}")
    return text
