"""`modelfleet data generate/import`: a month of a workflow's images into the deliveries."""

from __future__ import annotations

from pathlib import Path

import click

from modelfleet.cli.base import Month, command, group, option
from modelfleet.cli.known import fleet_workflow, month_with_data
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
    out = out or month_dir(get_settings().deliveries, declared.name, month)
    counts = write_delivery(declared, month, out)
    print(f"delivered {counts} images for {declared.name} {month} to {out}")


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


data.add_command(generate)
data.add_command(import_month)
