"""`modelfleet zoo` (the architecture families) and `modelfleet zoo trial` (train each
briefly on a workflow's data and recommend one)."""

from __future__ import annotations

import json
import os

import click

from modelfleet.cli.base import command, group, json_flag, option
from modelfleet.cli.known import fleet_workflow
from modelfleet.errors import ConfigError


@group(
    "zoo",
    help="list the CNN architecture families with parameter counts",
    invoke_without_command=True,
)
@option("--input-shape", type=int, nargs=3, default=(32, 32, 3), metavar="H W C")
@option("--classes", type=int, default=10)
@click.pass_context
def zoo(ctx: click.Context, input_shape: tuple[int, int, int], classes: int) -> None:
    if ctx.invoked_subcommand is not None:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # only another input builds models
    from rich.table import Table

    from modelfleet.views import console
    from modelfleet.zoo.catalog import describe_families

    table = Table(title=f"architecture zoo at input {list(input_shape)}, {classes} classes")
    for column in ("family", "parameters", "layers", "features", "description"):
        table.add_column(
            column, justify="right" if column in ("parameters", "layers", "features") else "left"
        )
    for row in describe_families(input_shape, classes):
        table.add_row(
            row["name"],
            f"{row['params']:,}",
            str(row["layers"]),
            str(row["features"]),
            row["description"],
        )
    console().print(table)


@command(
    "trial",
    help="train every family briefly on a workflow's data; recommend one",
    description="Train each CNN family on the workflow's latest months of data (its own "
    "source and preprocessing) for an equal share of the budget, score each on those "
    "months' holdout, and time it serving. Recommends the best holdout macro-F1; "
    "within 0.005 of it, the fewest serving ms per image.",
)
@click.argument("workflow")
@option(
    "--budget-min",
    type=float,
    default=10.0,
    metavar="N",
    help="minutes of training for all families together (default 10); each family's "
    "graph tracing, scoring and timing come on top",
)
@json_flag(help="the results as JSON, no progress")
def trial(workflow: str, budget_min: float, as_json: bool) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from modelfleet.training.architecture_trial import trial
    from modelfleet.views import console, render_trial

    if not budget_min > 0:
        raise ConfigError(f"--budget-min must be positive minutes, got {budget_min}")
    declared = fleet_workflow(workflow)
    progress = None if as_json else (lambda line: print(f"  {line}", flush=True))
    result = trial(declared, budget_min * 60, progress=progress)
    if as_json:
        print(json.dumps(result.as_dict(), indent=1))
        return
    console().print(render_trial(result))
    print(f"recommended: {result.recommendation.reason}")


zoo.add_command(trial)
