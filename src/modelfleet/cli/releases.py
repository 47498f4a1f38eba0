"""`modelfleet retrain/rollback/approve/reproduce`: a workflow's versions move through
Airflow, the gate and the production alias."""

from __future__ import annotations

import click

from modelfleet.cli.base import Month, actor_option, cli_actor, command, option
from modelfleet.cli.known import (
    NoDataToRetrain,
    fleet_workflow,
    month_with_data,
    registered_version,
    registered_workflow,
    registry_session,
)
from modelfleet.errors import ModelfleetError


@command(
    "retrain",
    help="trigger retrain__<wf> in Airflow (as the UI's Trigger); --wait follows it",
    description="Trigger a workflow's retrain__<wf> DAG over Airflow's REST API. Without "
    "--month the run takes the latest month with data (the source's months and those "
    "imported, generated or snapshotted, as the registry knows them). With --wait: "
    "exit 0 released, 3 rejected by the gate, 4 skipped (no data for the month), "
    "1 failed or timed out. A --month without data is refused at once (exit 4), "
    "listing the months with data.",
)
@click.argument("workflow")
@option(
    "--month",
    type=Month(),
    help="YYYY-MM to train on (default: the latest month with data)",
)
@option("--wait", is_flag=True, help="follow the tasks, print the outcome")
@option(
    "--timeout",
    type=float,
    default=60.0,
    metavar="MIN",
    help="with --wait: stop waiting after this many minutes (exit 1; the run goes on)",
)
@option(
    "--unpause",
    is_flag=True,
    help="unpause a paused DAG first (this also starts its schedule); without it a "
    "paused DAG is an error, since Airflow would queue the run and never start it",
)
def retrain(workflow: str, month: str | None, wait: bool, timeout: float, unpause: bool) -> int:
    from datetime import datetime

    from modelfleet.config import load_fleet
    from modelfleet.orchestration import trigger
    from modelfleet.orchestration.airflow_client import AirflowClient
    from modelfleet.orchestration.airflow_env import ADMIN_USER, admin_password
    from modelfleet.settings import get_settings

    settings = get_settings()
    declared = fleet_workflow(workflow)
    if month is not None:  # refused before a run is made, with the exit code of one
        month_with_data(declared, month, settings.deliveries, NoDataToRetrain)
    client = AirflowClient(settings.airflow_url, ADMIN_USER, admin_password(settings))
    request = trigger.RetrainRequest(workflow, month, unpause=unpause)
    run = trigger.trigger(client, load_fleet(settings.config_file), request, say=print)
    print(f"triggered {run.dag_id} for {run.month}: run {run.run_id}")
    if not wait:
        print(f"follow it at {run.url} (or add --wait)")
        return 0

    def progress(task: str, state: str) -> None:
        print(f"  {datetime.now():%H:%M:%S}  {task:9} {state}", flush=True)

    result = trigger.follow(client, run, timeout * 60, progress)
    print("\n".join(trigger.describe(result)))
    return result.exit_code


@command("rollback", help="move production back (default: to the version it replaced)")
@click.argument("workflow")
@option("--to", metavar="vX.Y.Z", help="the version to make production")
@option("--reason", required=True, help="why; recorded in the alias history")
@actor_option
def rollback(workflow: str, to: str | None, reason: str, actor: str | None) -> None:
    from modelfleet.releases import rollback
    from modelfleet.settings import get_settings

    with registry_session() as session:
        registered_workflow(session, workflow)
        if to is not None:
            registered_version(session, workflow, to)
    old, new = rollback(get_settings(), workflow, to=to, actor=cli_actor(actor), reason=reason)
    print(f"{workflow} production: {old} -> {new} (the endpoint swaps within seconds)")


@command("approve", help="release a candidate the gate rejected (register, deploy, smoke)")
@click.argument("workflow")
@click.argument("candidate", default="latest", help="training run id (default: latest rejected)")
@option("--reason", required=True, help="why; recorded with the gate decision")
@actor_option
def approve(workflow: str, candidate: str, reason: str, actor: str | None) -> None:
    from modelfleet.host.identity import actor as resolve_actor
    from modelfleet.pipeline.approve import approve

    fleet_workflow(workflow)
    done = approve(workflow, candidate, reason=reason, operator=resolve_actor(actor))
    where = "now in production" if done["moved"] else "registered; a newer version stays"
    print(f"approved {done['tag']} ({where}); overrode: {done['overridden']}")


@command("reproduce", help="rebuild a version from its tag and compare the weights' sha256")
@click.argument("tag", help="<workflow>@vX.Y.Z")
def reproduce(tag: str) -> None:
    from modelfleet.settings import get_settings
    from modelfleet.versioning.reproduce import reproduce

    workflow, _, version = tag.partition("@")
    if workflow and version:  # else reproduce names the form it expects
        with registry_session() as session:
            registered_version(session, workflow, version)
    result = reproduce(get_settings(), tag)
    print(f"recorded sha256 {result.recorded_sha256}")
    print(f"rebuilt  sha256 {result.rebuilt_sha256}")
    if not result.match:
        raise ModelfleetError(f"{tag}: MISMATCH; what differs: " + "; ".join(result.differences))
    print(f"{tag}: match (bit-identical weights)")
