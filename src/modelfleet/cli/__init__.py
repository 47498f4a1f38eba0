"""`modelfleet ...`: the command line, one module per command group.

Each command is a few lines over the library; heavy imports (TensorFlow, Airflow,
SQLAlchemy) happen inside the commands, so `modelfleet --help` stays fast.

    platform   up, stop, status, demo, doctor, migrate, render
    services   serve, ingest, warm-runner (the long-running processes)
    reports    lineage, fleet, versions, history
    monitor    monitor (the monitors' report on demand)
    label      label (a person's class for a stored image)
    releases   retrain, rollback, approve, reproduce
    data       data generate, data import
    workflows  workflow add, workflow list, workflow remove
    apps       apps create, grant, key, revoke, list
    zoo        zoo, zoo trial
    year       simulate-year
    base       the Click classes, parameter types and options they share
    known      the workflow, version or month a command was given must exist
    health     `status`'s checks: does each service answer

Exit codes: 0 done, 1 an error (`modelfleet: error: ...` on stderr, one line), 2 a usage
error (as argparse gave before the CLI moved to Click), an unknown workflow, version or
month included, 130 interrupted; `retrain --wait` adds its own (see its help).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from modelfleet.cli import (
    apps,
    data,
    label,
    monitor,
    platform,
    releases,
    reports,
    services,
    workflows,
    year,
    zoo,
)
from modelfleet.cli.base import Group
from modelfleet.errors import ModelfleetError
from modelfleet.host import quiet
from modelfleet.host.identity import login_env

__all__ = ["main", "root"]


class RootGroup(Group):
    """`modelfleet`: lends a login name, then turns a ModelfleetError into one line."""

    def invoke(self, ctx: click.Context) -> Any:
        os.environ.update(login_env())  # for DVC and Airflow under a uid with no passwd entry
        try:
            return super().invoke(ctx)
        except ModelfleetError as exc:
            print(f"modelfleet: error: {exc}", file=sys.stderr)
            ctx.exit(1)
        except KeyboardInterrupt:
            ctx.exit(130)


@click.group(
    "modelfleet",
    cls=RootGroup,
    help="`modelfleet ...`: the command line. Each command is a few lines over the library.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=False,
)
@click.version_option(
    package_name="modelfleet", prog_name="modelfleet", message="%(prog)s %(version)s"
)
def root() -> None:
    """The root group; its subcommands do the work."""


for _command in (
    platform.up,
    platform.stop,
    platform.status,
    platform.demo,
    services.serve,
    services.ingest,
    services.warm_runner,
    reports.lineage,
    zoo.zoo,
    releases.retrain,
    data.data,
    workflows.workflow,
    releases.rollback,
    releases.approve,
    reports.fleet,
    reports.versions,
    reports.history,
    monitor.monitor,
    label.label,
    apps.apps,
    releases.reproduce,
    platform.doctor,
    year.simulate_year,
    platform.migrate,
    platform.render,
):
    root.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    """Run `modelfleet *argv` (default: sys.argv[1:]); returns the exit code.

    A usage error raises SystemExit(2) after printing argparse's two lines (usage, then
    `<command>: error: ...`), as the argparse CLI did.
    """
    quiet.install()  # before any command imports TensorFlow (see modelfleet.host.quiet)
    try:
        code = root.main(args=argv, prog_name="modelfleet", standalone_mode=False)
    except click.UsageError as exc:
        _print_usage_error(exc)
        raise SystemExit(exc.exit_code) from None
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:  # end of input at a prompt
        print("Aborted!", file=sys.stderr)
        return 1
    return int(code or 0)


def _print_usage_error(exc: click.UsageError) -> None:
    if exc.ctx is None:
        print(f"modelfleet: error: {exc.format_message()}", file=sys.stderr)
        return
    print(exc.ctx.get_usage(), file=sys.stderr)
    print(f"{exc.ctx.command_path}: error: {exc.format_message()}", file=sys.stderr)
