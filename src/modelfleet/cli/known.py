"""Names a user types that must exist: a workflow, a version, a month with data.

An unknown one is a usage error (exit 2, `modelfleet <command>: error: ...` after the
usage line) whose message lists what exists, so a typo is fixed from the message alone.
`retrain --month` of a month without data exits 4 instead, as a run of it would.
The library's own errors (ConfigError, NotFound) stay exit 1: they also reach Airflow
tasks and the endpoint, where the list of names may be long or private.

Every check runs in the command, never while Click parses: `--help` imports nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from modelfleet.orchestration.outcomes import EXIT_NO_DATA

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from modelfleet.config import Workflow

_MONTH = re.compile(r"\d{4}-\d{2}")


def usage_error(message: str) -> NoReturn:
    """Raise a Click usage error for the running command (exit 2)."""
    raise click.UsageError(message, ctx=click.get_current_context(silent=True))


def listing(names: Iterable[str], none: str = "none") -> str:
    """`a, b, c` (or `none`) for a message."""
    return ", ".join(names) or none


def registry_session() -> Session:
    """A session on the lineage database (SQLAlchemy imported only when a command runs)."""
    from sqlalchemy.orm import Session

    from modelfleet.registry import db

    return Session(db.engine())


def fleet_workflow(name: str) -> Workflow:
    """The declared workflow `name`; unknown: a usage error naming the fleet's workflows."""
    from modelfleet.config import load_fleet

    fleet = load_fleet()
    if name not in fleet.workflows:
        usage_error(f"unknown workflow {name!r}; the fleet has {listing(fleet.workflows)}")
    return fleet.workflows[name]


def registered_workflow(session: Session, name: str) -> str:
    """`name` if the fleet declares it or the registry has records of it (a removed
    workflow's versions stay queryable); else a usage error listing both."""
    from modelfleet.config import load_fleet
    from modelfleet.registry.store.workflows import workflow_names

    declared = list(load_fleet().workflows)
    if name in declared:
        return name
    recorded = [n for n in workflow_names(session) if n not in declared]
    if name in recorded:
        return name
    removed = f"; removed, with records: {listing(recorded)}" if recorded else ""
    usage_error(f"unknown workflow {name!r}; the fleet has {listing(declared)}{removed}")


def registered_version(session: Session, workflow: str, version: str) -> str:
    """`version` of a known `workflow`; else a usage error listing its versions."""
    from modelfleet.registry.store.versions import list_versions

    registered_workflow(session, workflow)
    held = [v.version for v in list_versions(session, workflow)]
    if version not in held:
        usage_error(
            f"workflow {workflow!r} has no version {version}; its versions: "
            + listing(held, "none yet (no run released one)")
        )
    return version


class NoDataToRetrain(click.UsageError):
    """`retrain --month` of a month without data: it exits as a run for it would."""

    exit_code = EXIT_NO_DATA


def month_with_data(
    workflow: Workflow,
    month: str,
    deliveries: Path | None = None,
    refusal: type[click.UsageError] = click.UsageError,
) -> str:
    """`month` if the workflow's source holds it (or it was delivered to `deliveries`);
    else `refusal` (a usage error, exit 2) listing the months that have data."""
    from modelfleet.datasets.sources import source_months

    months = set(source_months(workflow))
    if deliveries is not None and (deliveries / workflow.name).is_dir():
        months |= {p.name for p in (deliveries / workflow.name).iterdir() if p.is_dir()}
    if month not in months:
        raise refusal(
            f"workflow {workflow.name!r} has no data for month {month}; months with data: "
            # deliveries also hold the frozen test set (test-set-<hash>/): months only
            + listing(sorted(m for m in months if _MONTH.fullmatch(m))),
            ctx=click.get_current_context(silent=True),
        )
    return month
