"""`modelfleet data generate/import`: a month of a workflow's images into the deliveries."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from modelfleet.cli.base import Month, command, group, option
from modelfleet.cli.known import fleet_workflow, month_with_data, registry_session
from modelfleet.errors import ModelfleetError
from modelfleet.settings import HOME_ENV


@group("data", help="datasets")
def data() -> None:
    """The group; its subcommands do the work."""


@command("generate", help="deliver one month of a workflow's images (<split>/<label>/<file>)")
@click.argument("workflow")
@option("--month", type=Month(), required=True, help="YYYY-MM, a month the source holds")
@option(
    "--out",
    type=click.Path(path_type=Path),
    help=f"default: ${HOME_ENV}/deliveries/<wf>/<month>/",
)
def generate(workflow: str, month: str, out: Path | None) -> None:
    from modelfleet.datasets.deliveries import month_dir, write_delivery
    from modelfleet.settings import get_settings

    declared = fleet_workflow(workflow)
    month_with_data(declared, month)
    delivered = month_dir(get_settings().deliveries, declared.name, month)
    counts = write_delivery(declared, month, out or delivered)
    print(f"delivered {counts} images for {declared.name} {month} to {out or delivered}")
    if out is None or out.resolve() == delivered.resolve():
        _record(declared.name, month, "generated")


@command(
    "import",
    help="copy one month's images from a folder or URL (s3://...) into the deliveries",
)
@click.argument("workflow")
@click.argument(
    "source", metavar="PATH_OR_URL", help="<label>/<file> or {train,holdout}/<label>/<file>"
)
@option("--month", type=Month(), required=True, help="YYYY-MM: the month it becomes")
@option("--replace", is_flag=True, help="replace a month that was delivered before")
def import_month(workflow: str, source: str, month: str, replace: bool) -> None:
    from modelfleet.datasets.importer import import_month
    from modelfleet.settings import get_settings

    declared = fleet_workflow(workflow)
    summary = import_month(declared, source, month, get_settings().deliveries, replace=replace)
    print("\n".join(summary.lines()))
    _record(declared.name, month, "imported")


def _record(workflow: str, month: str, origin: Literal["imported", "generated"]) -> None:
    """Tell the registry the month has data: the trigger form proposes it and a manual run
    without a month takes the latest, with no folder listed. The images are in place
    already, so a registry that cannot be reached is a warning, not a failure."""
    import sqlalchemy as sa

    from modelfleet.registry.store.data_months import record_month
    from modelfleet.settings import get_settings

    settings = get_settings()
    if not settings.database_url and not (settings.pgdata / "PG_VERSION").exists():
        return  # no registry was ever set up here (`modelfleet up` makes one): none to tell
    try:
        with registry_session() as session, session.begin():
            record_month(session, workflow, month, origin)
    except (ModelfleetError, sa.exc.SQLAlchemyError) as exc:
        click.echo(
            f"warning: the registry did not record {workflow} {month} ({exc}); the Trigger "
            "form will not propose it until a run snapshots it",
            err=True,
        )


data.add_command(generate)
data.add_command(import_month)
