"""`modelfleet lineage/fleet/versions/history`: what the registry knows, as a table or
as JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from modelfleet.cli.base import command, json_flag
from modelfleet.cli.known import registered_version, registered_workflow
from modelfleet.errors import ModelfleetError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@command("lineage", help="why did the model say that? (image, sha256 or wf@vX.Y.Z)")
@click.argument("target")
@json_flag()
def lineage(target: str, as_json: bool) -> None:
    from sqlalchemy.orm import Session

    from modelfleet.datasets.manifest import sha256_file
    from modelfleet.registry import db
    from modelfleet.registry.store.lineage import prediction_lineage, version_lineage
    from modelfleet.views import console, render_lineage

    with Session(db.engine()) as session:
        if "@v" in target and not Path(target).exists():
            workflow, _, version = target.partition("@")
            chain = version_lineage(
                session, workflow, registered_version(session, workflow, version)
            )
        elif _SHA256.match(target):
            chain = prediction_lineage(session, target)
        elif Path(target).is_file():
            chain = prediction_lineage(session, sha256_file(Path(target)))
        else:
            raise ModelfleetError(f"{target!r} is not an image file, a sha256 or <workflow>@vX.Y.Z")
    if as_json:
        print(json.dumps(chain, indent=2, default=str))
    else:
        console().print(render_lineage(chain))


@command("fleet", help="every workflow: production, metrics, last gate")
@json_flag()
def fleet(as_json: bool) -> None:
    from sqlalchemy.orm import Session

    from modelfleet.config import load_fleet
    from modelfleet.registry import db
    from modelfleet.registry.store.reports import fleet_summary
    from modelfleet.views import console, render_fleet

    with Session(db.engine()) as session:
        rows = fleet_summary(session, list(load_fleet().workflows))
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        console().print(render_fleet(rows))


@command("versions", help="a workflow's versions with metrics and gate decisions")
@click.argument("workflow")
@json_flag()
def versions(workflow: str, as_json: bool) -> None:
    from modelfleet.registry.store.reports import version_summaries
    from modelfleet.views import render_versions

    _report(workflow, as_json, version_summaries, render_versions)


@command("history", help="the production alias history: when, who, from -> to, why")
@click.argument("workflow")
@json_flag()
def history(workflow: str, as_json: bool) -> None:
    from modelfleet.registry.store.reports import alias_events
    from modelfleet.views import render_history

    _report(workflow, as_json, alias_events, render_history)


def _report(
    workflow: str,
    as_json: bool,
    fetch: Callable[[Any, str], Any],
    render: Callable[[str, Any], Any],
) -> None:
    """Print a workflow's report rows as a table, or as JSON with --json."""
    from sqlalchemy.orm import Session

    from modelfleet.registry import db
    from modelfleet.views import console

    with Session(db.engine()) as session:
        rows = fetch(session, registered_workflow(session, workflow))
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        console().print(render(workflow, rows))
