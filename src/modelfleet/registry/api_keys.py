"""The platform's own applications and where their API keys live.

`modelfleet up` (and the test platform) create three applications:
- `modelfleet-admin`: every workflow, management routes (smoke tests, demo, CLI);
- `modelfleet-ingest`: the stream classifier, every workflow pinned to production;
- `modelfleet-reclassify`: the `reclassify__<wf>` DAGs, every workflow pinned to
  production except while a run pins the version it re-classifies with (the pin is
  what makes the endpoint load that version).
Their keys are written once to `$MODELFLEET_HOME/secrets/<app>.key` (mode 0600, in a
folder of mode 0700);
Postgres holds only their hashes. Applications declared in workflows.yaml are
synced at the same time.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from modelfleet.config import Fleet
from modelfleet.errors import NotFound, PlatformError
from modelfleet.fileops import private_dir
from modelfleet.host.secret_files import write_secret
from modelfleet.naming import PRODUCTION
from modelfleet.registry import db
from modelfleet.registry.store import applications
from modelfleet.settings import API_KEY_ENV, Settings

ADMIN_APP = "modelfleet-admin"
INGEST_APP = "modelfleet-ingest"
RECLASSIFY_APP = "modelfleet-reclassify"
ACTOR = "modelfleet up"


def secrets_dir(settings: Settings) -> Path:
    return settings.home / "secrets"


def key_file(settings: Settings, app: str) -> Path:
    return secrets_dir(settings) / f"{app}.key"


def key_files(settings: Settings) -> list[Path]:
    """Every key file in the secrets folder (the platform's own and any put there)."""
    return sorted(secrets_dir(settings).glob("*.key"))


def api_key(settings: Settings, app: str = ADMIN_APP) -> str:
    """The key a platform client sends; the admin key setting overrides its key file."""
    if app == ADMIN_APP and settings.api_key:
        return settings.api_key
    path = key_file(settings, app)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise PlatformError(
            f"no API key for {app!r} at {path}; `modelfleet up` creates it (or set {API_KEY_ENV})"
        ) from None


def auth_headers(settings: Settings, app: str = ADMIN_APP) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key(settings, app)}"}


def ensure_platform_apps(settings: Settings, fleet: Fleet, database_url: str) -> None:
    """Sync declared applications; give the platform's own a key file if they lack one."""
    everything = dict.fromkeys(fleet.workflows, PRODUCTION)
    with Session(db.engine(database_url)) as session, session.begin():
        applications.sync_declared(
            session,
            {name: (dict(spec.grants), spec.admin) for name, spec in fleet.applications.items()},
            actor="workflows.yaml",
        )
        for app, admin in ((ADMIN_APP, True), (INGEST_APP, False), (RECLASSIFY_APP, False)):
            try:
                existing = applications.get_application(session, app)
            except NotFound:
                existing = None
                key = applications.create_application(
                    session, app, grants=everything, actor=ACTOR, admin=admin
                )
            else:
                assert existing is not None  # the try body set it (mypy cannot tell)
                for workflow in set(everything) - set(existing.grants):
                    applications.set_grant(
                        session, app, workflow, PRODUCTION, actor=ACTOR, reason="new workflow"
                    )
                key = None
            path = key_file(settings, app)
            if key is None and (not path.is_file() or existing is None or not existing.has_key):
                key = applications.issue_key(session, app)
            if key is not None:
                private_dir(path.parent)
                write_secret(path, key + "\n")  # 0600 from its first byte
