"""`modelfleet workflow add/list/remove`: the user's own workflows in workflows.d."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from modelfleet.cli.base import (
    InputShape,
    actor_option,
    cli_actor,
    command,
    group,
    json_flag,
    option,
)
from modelfleet.cli.known import fleet_workflow
from modelfleet.errors import ConfigError
from modelfleet.naming import retrain_dag_id
from modelfleet.settings import HOME_ENV


@group("workflow", help="your own workflows: add one from a folder or bucket, list, remove")
def workflow() -> None:
    """The group; its subcommands do the work."""


@command(
    "add",
    help="a folder or bucket of <YYYY-MM>/<label>/<file> becomes a workflow",
    description="Inspect the folder (every image is read once), propose the workflow "
    "(input shape, expectations, gate sample size, architecture) and write it to "
    f"${HOME_ENV}/workflows.d/NAME.yaml, with params.yaml and dvc.yaml rendered in "
    "the model repository. Within a minute, with no restart, retrain__NAME appears in "
    "Airflow unpaused, the endpoint knows NAME and the stream watches landing/NAME/. "
    "See docs/your-own-images.md.",
)
@click.argument("name", metavar="NAME")
@option("--from", "source", required=True, metavar="PATH_OR_URL", help="path, file://, s3://")
@option(
    "--architecture",
    metavar="A|auto",
    help="a family of `modelfleet zoo` (default: lenet, proposed), or auto: a zoo trial "
    "on this folder's images chooses (takes --budget-min and a little more)",
)
@option("--input-shape", type=InputShape(), metavar="HxWxC", help="e.g. 64x64x3")
@option("--schedule", help="an Airflow schedule (default @monthly)")
@option("--test", "test_url", metavar="URL", help="the frozen test set's own folder")
@option(
    "--test-fraction",
    type=float,
    metavar="F",
    help="carve the frozen test set out of the months by file hash (when there is no test/ folder)",
)
@option(
    "--budget-min",
    type=float,
    default=10.0,
    metavar="N",
    help="with --architecture auto: minutes of training for all families (default 10)",
)
@option("--dry-run", is_flag=True, help="inspect and propose; write nothing")
@actor_option
def add(name: str, budget_min: float, dry_run: bool, actor: str | None, **proposed: Any) -> None:
    """`proposed`: the options named as AddRequest's fields (source, architecture,
    input_shape, schedule, test_url, test_fraction), passed on as they are."""
    import yaml

    from modelfleet.platform import workflow_add
    from modelfleet.settings import get_settings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # a zoo trial imports TensorFlow
    settings = get_settings()
    request = workflow_add.AddRequest(name=name, trial_budget_s=budget_min * 60, **proposed)

    def say(line: str) -> None:
        print(line, flush=True)

    plan = workflow_add.plan(request, settings, say)
    print(f"\nproposed workflow {name!r}:")
    print(yaml.safe_dump(plan.proposal.document(), sort_keys=False).rstrip())
    print("why:")
    print("\n".join(f"  {note}" for note in plan.proposal.notes))
    if dry_run:
        print("--dry-run: nothing written")
        return
    applied = workflow_add.add(plan, settings, say, actor=cli_actor(actor))
    print(f"wrote {settings.workflows_d / (name + '.yaml')}")
    added = applied.fleet.get(name)
    if applied.rendered:
        workflow_add.unpause_if_paused(settings, added.dag_id, say)
    when = "within a minute, with no restart" if applied.rendered else "once `modelfleet up` ran"
    print(
        f"{when}: {added.dag_id} appears in Airflow unpaused "
        f"(its {added.schedule} schedule starts with last month's interval), the "
        f"endpoint knows {name!r} (404 until a version is deployed) and the stream "
        f"classifier watches {settings.landing / name}/"
    )
    latest = plan.summary.months[-1]
    print(f"train a month now: modelfleet retrain {name} --month {latest} --wait")


@command("list", help="shipped and added workflows, production versions")
@json_flag()
def list_(as_json: bool) -> None:
    from modelfleet.platform.workflow_list import list_workflows
    from modelfleet.settings import get_settings

    listing = list_workflows(get_settings())
    if as_json:
        from dataclasses import asdict

        print(json.dumps(asdict(listing), indent=1, default=str))
        return
    from modelfleet.views import console, render_workflows

    console().print(render_workflows(listing))


@command(
    "remove",
    help="archive a workflow you added (versions and lineage stay queryable)",
    description="Move workflows.d/NAME.yaml to workflows.d/.archive/, render the model "
    "repository without it and revoke every grant of it. Its DAGs leave Airflow, the "
    "endpoint answers 404 and the stream stops watching landing/NAME/ within a minute. "
    "Shipped workflows are refused.",
)
@click.argument("name", metavar="NAME")
@option("--yes", is_flag=True, help="do not ask for confirmation")
@option("--reason", default="removed with `modelfleet workflow remove`", help="recorded")
@actor_option
def remove(name: str, yes: bool, reason: str, actor: str | None) -> None:
    from modelfleet.platform.workflow_remove import declaring_file, remove
    from modelfleet.settings import get_settings

    settings = get_settings()
    fleet_workflow(name)
    path = declaring_file(settings, name)  # refuse before asking (a shipped one, say)
    if not yes:
        if not sys.stdin.isatty():
            raise ConfigError(f"workflow remove {name}: not a terminal to confirm; add --yes")
        answer = input(
            f"Archive workflow {name!r} ({path})? Its DAGs go, the endpoint answers 404, "
            "the stream stops watching and its grants are revoked; versions and lineage "
            "stay. [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing changed")
            return
    removed = remove(settings, name, print, actor=cli_actor(actor), reason=reason)
    print(f"archived {name}: {path} -> {removed.archived_to}")
    revoked = ", ".join(f"{app}={pin}" for app, pin in removed.revoked.items())
    print(f"revoked grants: {revoked or 'none'}")
    print(
        f"within a minute: {retrain_dag_id(name)} leaves Airflow, the endpoint answers 404, "
        f"the stream stops watching landing/{name}/; `modelfleet versions {name}` "
        "and `modelfleet lineage` still answer"
    )


workflow.add_command(add)
workflow.add_command(list_)
workflow.add_command(remove)
