"""`modelfleet apps create/grant/key/revoke/list`: the endpoint's applications, their API
keys and the versions each is pinned to."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from modelfleet.cli.base import actor_option, cli_actor, command, group, json_flag, option
from modelfleet.cli.known import fleet_workflow, registered_version, registry_session

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

PIN_HELP = "workflow it may query, pinned to production (default), candidate or vX.Y.Z"


@group("apps", help="applications of the endpoint: API keys and pinned versions")
def apps() -> None:
    """The group; its subcommands do the work."""


@command("create", help="a new application; prints its API key last")
@click.argument("name")
@option("--grant", "grants", multiple=True, metavar="WF[=PIN]", help=PIN_HELP)
@option("--admin", is_flag=True, help="every workflow, management routes")
@actor_option
def create(name: str, grants: tuple[str, ...], admin: bool, actor: str | None) -> None:
    from modelfleet.registry.store import applications

    pins = _grants(grants)
    _check_workflows(pins)  # before the registry: the fleet alone knows them
    with registry_session() as session, session.begin():
        _check_versions(session, pins)
        key = applications.create_application(
            session, name, grants=pins, actor=cli_actor(actor), admin=admin
        )
    print(
        f"created application {name!r}: "
        + (", ".join(f"{w}={p}" for w, p in pins.items()) or "no grants")
    )
    print("its API key (shown once; send it as 'Authorization: Bearer <key>'):")
    print(key)


@command("grant", help="grant workflows or change pins")
@click.argument("name")
@click.argument("grants", nargs=-1, required=True, metavar="WF[=PIN]...")
@option("--reason", required=True)
@option(
    "--label/--no-label",
    default=None,
    help="also let it label these workflows' images (POST /v1/feedback/WF), or no longer; "
    "a WF without =PIN keeps its current pin",
)
@actor_option
def grant(
    name: str, grants: tuple[str, ...], reason: str, label: bool | None, actor: str | None
) -> None:
    from modelfleet.registry.store import applications

    who = cli_actor(actor)
    pins = _grants(grants)
    _check_workflows(pins)  # before the registry: the fleet alone knows them
    with registry_session() as session, session.begin():
        if label is not None:  # changing the label grant alone must not move a pin
            current = applications.get_application(session, name).grants
            unpinned = [spec for spec in grants if "=" not in spec]
            pins.update({wf: current[wf] for wf in unpinned if wf in current})
        _check_versions(session, pins)
        for workflow, pin in pins.items():
            applications.set_grant(
                session, name, workflow, pin, actor=who, reason=reason, label=label
            )
    shown = ", ".join(f"{w}={p}" for w, p in pins.items())
    print(f"{name}: {shown}" + ("" if label is None else f" (label: {'yes' if label else 'no'})"))


@command("key", help="issue a new API key (the old one stops working)")
@click.argument("name")
def key(name: str) -> None:
    from modelfleet.registry.store import applications

    with registry_session() as session, session.begin():
        issued = applications.issue_key(session, name)
    print(f"new API key for {name!r} (the old one stops working within seconds; shown once):")
    print(issued)


@command("revoke", help="revoke an application's key")
@click.argument("name")
def revoke(name: str) -> None:
    from modelfleet.registry.store import applications

    with registry_session() as session, session.begin():
        applications.revoke(session, name)
    print(f"revoked the key of {name!r}; requests with it get 401 within seconds")


@command("list", help="applications, their grants and pins")
@json_flag()
def list_(as_json: bool) -> None:
    from modelfleet.registry.store import applications
    from modelfleet.views import console, render_applications

    with registry_session() as session:
        listed = applications.list_applications(session)
    if as_json:
        print(json.dumps([_app_json(a) for a in listed], indent=1, default=str))
    else:
        console().print(render_applications(listed))


def _grants(specs: tuple[str, ...]) -> dict[str, str]:
    """`wf` or `wf=pin` -> {wf: pin}; the pin defaults to production."""
    grants = {}
    for spec in specs:
        workflow, _, pin = spec.partition("=")
        grants[workflow] = pin or "production"
    return grants


def _check_workflows(pins: dict[str, str]) -> None:
    """Each workflow declared, else a usage error listing the fleet."""
    for workflow in pins:
        fleet_workflow(workflow)


def _check_versions(session: Session, pins: dict[str, str]) -> None:
    """Each version pin registered, else a usage error listing the workflow's versions
    (alias pins and the pin's form are checked by the store)."""
    for workflow, pin in pins.items():
        if pin.startswith("v"):
            registered_version(session, workflow, pin)


def _app_json(app: Any) -> dict[str, Any]:
    return {
        "name": app.name,
        "admin": app.admin,
        "grants": app.grants,
        "label": sorted(app.labels),
        "has_key": app.has_key,
        "declared": app.declared,
        "revoked_at": app.revoked_at,
        "created_at": app.created_at,
        "created_by": app.created_by,
    }


for _command in (create, grant, key, revoke, list_):
    apps.add_command(_command)
