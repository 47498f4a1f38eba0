"""Applications of the endpoint: hashed API keys and per-workflow grants with pins.

A key reads `mf_<key id>_<secret>`. The key id finds the row; only an argon2 hash
of the whole key is stored, so a leaked database leaks no usable key. Changes
NOTIFY the endpoint (same channel as alias moves) so that it reloads pins and
forgets cached keys at once.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection
from functools import cache

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from modelfleet.config import load_fleet
from modelfleet.errors import InvalidGrant, NotFound, RegistryError, VersioningError
from modelfleet.naming import ALIAS_PINS, parse_pin
from modelfleet.registry.entities import Application
from modelfleet.registry.store.versions import ALIAS_CHANNEL, get_version
from modelfleet.registry.store.workflows import ensure_workflow
from modelfleet.registry.tables import ApplicationRow, GrantRow, WorkflowRow

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_KEY = re.compile(r"^mf_([0-9a-f]{12})_([A-Za-z0-9_-]{20,200})$")
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash no key matches, with the real hashes' parameters: an unknown key id is
    verified against it, so that it costs what a wrong secret costs."""
    return _hasher.hash(secrets.token_urlsafe(32))


def _notify(session: Session) -> None:
    session.execute(sa.select(sa.func.pg_notify(ALIAS_CHANNEL, "applications")))


def _row(session: Session, name: str, *, lock: bool = False) -> ApplicationRow:
    if not _NAME.fullmatch(name):  # no such name can exist; nor ask Postgres (NUL bytes)
        raise NotFound(f"no application named {name[:80]!r}")
    query = sa.select(ApplicationRow).where(ApplicationRow.name == name)
    row = session.execute(query.with_for_update() if lock else query).scalar()
    if row is None:
        raise NotFound(f"no application named {name!r}")
    return row


def _grants(session: Session, application_ids: list[int]) -> dict[int, dict[str, str]]:
    rows = session.execute(
        sa.select(GrantRow.application_id, WorkflowRow.name, GrantRow.pin)
        .join(WorkflowRow, WorkflowRow.id == GrantRow.workflow_id)
        .where(GrantRow.application_id.in_(application_ids))
        .order_by(WorkflowRow.name)
    ).all()
    out: dict[int, dict[str, str]] = {i: {} for i in application_ids}
    for app_id, workflow, pin in rows:
        out[app_id][workflow] = pin
    return out


def _labels(session: Session, application_id: int) -> frozenset[str]:
    """The workflows whose images the application may label (the `label` grant)."""
    return frozenset(
        session.scalars(
            sa.select(WorkflowRow.name)
            .join(GrantRow, GrantRow.workflow_id == WorkflowRow.id)
            .where(GrantRow.application_id == application_id, GrantRow.label.is_(True))
        )
    )


def _entity(
    row: ApplicationRow, grants: dict[str, str], labels: frozenset[str] = frozenset()
) -> Application:
    return Application(
        name=row.name,
        admin=row.admin,
        grants=grants,
        has_key=row.key_hash is not None,
        declared=row.declared,
        created_by=row.created_by,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        labels=labels,
    )


def _new_key(row: ApplicationRow) -> str:
    key_id = secrets.token_hex(6)
    key = f"mf_{key_id}_{secrets.token_urlsafe(32)}"
    row.key_id, row.key_hash, row.revoked_at = key_id, _hasher.hash(key), None
    return key


def create_application(
    session: Session,
    name: str,
    *,
    grants: dict[str, str],
    actor: str,
    admin: bool = False,
    declared: bool = False,
    issue_key: bool = True,
    workflows: Collection[str] | None = None,
) -> str | None:
    """Insert an application with its grants; returns its new API key (shown once).
    `workflows`: those a grant may name (default: the fleet file's, see `set_grant`)."""
    if not _NAME.match(name):
        raise RegistryError(f"application name {name!r} must match {_NAME.pattern}")
    if session.execute(sa.select(ApplicationRow.id).where(ApplicationRow.name == name)).first():
        raise RegistryError(f"application {name!r} already exists (revoke it or issue a new key)")
    row = ApplicationRow(name=name, admin=admin, declared=declared, created_by=actor)
    key = _new_key(row) if issue_key else None
    session.add(row)
    session.flush()
    for workflow, pin in grants.items():
        set_grant(session, name, workflow, pin, actor=actor, reason="created", workflows=workflows)
    _notify(session)
    return key


def issue_key(session: Session, name: str) -> str:
    """A new key for `name` (the old one stops working); also un-revokes."""
    key = _new_key(_row(session, name, lock=True))
    _notify(session)
    return key


def revoke(session: Session, name: str) -> None:
    row = _row(session, name, lock=True)
    row.key_id, row.key_hash, row.revoked_at = None, None, sa.func.now()
    _notify(session)


def set_grant(
    session: Session,
    name: str,
    workflow: str,
    pin: str,
    *,
    actor: str,
    reason: str,
    workflows: Collection[str] | None = None,
    label: bool | None = None,
) -> None:
    """Grant `workflow` to the application (or change its pin); `label` gives or takes
    the `label` grant (None: a new grant has none, an existing one keeps its own).

    InvalidGrant unless `workflow` is declared (one of `workflows`, by default the fleet
    file's) and a fixed-version pin names a registered version: a grant must not
    create a workflow row that the fleet pages would then list.
    """
    check_grant(session, workflow, pin, workflows)
    row = _row(session, name)
    values = {
        "application_id": row.id,
        "workflow_id": ensure_workflow(session, workflow),
        "pin": pin,
        "updated_by": actor,
        "reason": reason,
    }
    if label is not None:
        values["label"] = label
    session.execute(
        pg_insert(GrantRow)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["application_id", "workflow_id"],
            set_={**values, "updated_at": sa.func.now()},
        )
    )
    _notify(session)


def check_grant(
    session: Session, workflow: str, pin: str, workflows: Collection[str] | None = None
) -> None:
    """InvalidGrant, naming what is wrong, unless `workflow` is declared and `pin` is an
    alias or a registered version of it."""
    if workflows is None:
        workflows = load_fleet().workflows
    if workflow not in workflows:
        shown = workflow if len(workflow) <= 64 else workflow[:64] + "..."
        raise InvalidGrant(
            f"workflow {shown!r} is not declared; declared: {', '.join(sorted(workflows))}"
        )
    try:
        pin = parse_pin(pin)
    except VersioningError as exc:
        raise InvalidGrant(f"{workflow}: {str(exc)[:200]}") from None
    if pin not in ALIAS_PINS:
        try:
            get_version(session, workflow, pin)
        except NotFound as exc:
            raise InvalidGrant(f"cannot pin {workflow} to {pin}: {exc}") from None


def remove_grant(session: Session, name: str, workflow: str) -> None:
    row = _row(session, name)
    session.execute(
        sa.delete(GrantRow).where(
            GrantRow.application_id == row.id,
            GrantRow.workflow_id
            == sa.select(WorkflowRow.id).where(WorkflowRow.name == workflow).scalar_subquery(),
        )
    )
    _notify(session)


def get_application(session: Session, name: str) -> Application:
    row = _row(session, name)
    return _entity(row, _grants(session, [row.id])[row.id], _labels(session, row.id))


def list_applications(session: Session) -> list[Application]:
    rows = list(session.scalars(sa.select(ApplicationRow).order_by(ApplicationRow.name)))
    grants = _grants(session, [r.id for r in rows])
    return [_entity(r, grants[r.id], _labels(session, r.id)) for r in rows]


def authenticate(session: Session, key: str) -> Application | None:
    """The live application holding `key`, or None. Costs one argon2 verification."""
    match = _KEY.match(key)
    if match is None:
        return None
    row = session.execute(
        sa.select(ApplicationRow).where(
            ApplicationRow.key_id == match.group(1), ApplicationRow.revoked_at.is_(None)
        )
    ).scalar()
    try:
        # Unknown, revoked and known key ids all cost one verification: no timing oracle.
        _hasher.verify(_dummy_hash() if row is None or row.key_hash is None else row.key_hash, key)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    return _entity(row, _grants(session, [row.id])[row.id], _labels(session, row.id))


def pinned_versions(session: Session) -> dict[str, set[str]]:
    """Fixed-version pins of live applications, per workflow: the endpoint keeps them loaded."""
    rows = session.execute(
        sa.select(WorkflowRow.name, GrantRow.pin)
        .join(GrantRow, GrantRow.workflow_id == WorkflowRow.id)
        .join(ApplicationRow, ApplicationRow.id == GrantRow.application_id)
        .where(ApplicationRow.revoked_at.is_(None), GrantRow.pin.not_in(ALIAS_PINS))
    ).all()
    out: dict[str, set[str]] = {}
    for workflow, pin in rows:
        out.setdefault(workflow, set()).add(pin)
    return out


def sync_declared(
    session: Session,
    declared: dict[str, tuple[dict[str, str], bool]],
    *,
    actor: str,
    workflows: Collection[str] | None = None,
) -> list[str]:
    """Make applications declared in workflows.yaml match it: (grants, admin) per name.

    Creates missing ones without a key (`modelfleet apps key` issues one); returns them.
    """
    created = []
    for name, (grants, admin) in declared.items():
        row = session.execute(sa.select(ApplicationRow).where(ApplicationRow.name == name)).scalar()
        if row is None:
            create_application(
                session,
                name,
                grants=grants,
                actor=actor,
                admin=admin,
                declared=True,
                issue_key=False,
                workflows=workflows,
            )
            created.append(name)
            continue
        row.admin, row.declared = admin, True
        current = _grants(session, [row.id])[row.id]
        for workflow in set(current) - set(grants):
            remove_grant(session, name, workflow)
        for workflow, pin in grants.items():
            if current.get(workflow) != pin:
                set_grant(
                    session,
                    name,
                    workflow,
                    pin,
                    actor=actor,
                    reason="workflows.yaml",
                    workflows=workflows,
                )
    return created


def fingerprint(session: Session) -> str:
    """Changes whenever a key, a revocation or a grant changes (the endpoint then
    forgets the keys it verified)."""
    apps = session.execute(
        sa.select(
            ApplicationRow.id,
            ApplicationRow.key_id,
            ApplicationRow.admin,
            ApplicationRow.revoked_at,
        ).order_by(ApplicationRow.id)
    ).all()
    grants = session.execute(
        sa.select(
            GrantRow.application_id, GrantRow.workflow_id, GrantRow.pin, GrantRow.label
        ).order_by(GrantRow.application_id, GrantRow.workflow_id)
    ).all()
    return repr((apps, grants))
