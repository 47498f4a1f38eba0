"""`modelfleet workflow add NAME --from PATH_OR_URL`: a user's folder becomes a workflow.

`plan` inspects the folder (`datasets.folder_inspect`), refuses one with problems (each
names its path), and proposes the workflow (`workflows_d.propose_workflow`): input
shape, expectations and gate sample size from the data, and an architecture: the one
named, `PROPOSED_ARCHITECTURE` when none is, or with `auto` the one a zoo trial on the
folder's own images recommends. Nothing is written while planning.

`add` writes it all or nothing (`platform.workflow_change`): the file in workflows.d,
params.yaml and dvc.yaml in the model repository, grants of the platform's own
applications (the stream classifier must be allowed to classify the new workflow) and a
`workflow_event` row. The dag-processor, the endpoint and the stream classifier pick the
file up by themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from modelfleet.config import WORKFLOW_NAME, Fleet, load_fleet
from modelfleet.config.workflows_d import (
    Proposal,
    check_workflow,
    fleet_defaults,
    propose_workflow,
    workflow_file,
    write_workflow,
)
from modelfleet.datasets.folder_inspect import FolderSummary, inspect_folder
from modelfleet.errors import ConfigError, DataError, NotFound, PlatformError
from modelfleet.naming import PRODUCTION
from modelfleet.platform.workflow_change import Applied, FleetChange, Undo, apply
from modelfleet.registry.api_keys import ADMIN_APP, INGEST_APP, RECLASSIFY_APP
from modelfleet.registry.store import applications, workflow_events
from modelfleet.settings import Settings
from modelfleet.zoo import FAMILIES

if TYPE_CHECKING:
    from modelfleet.training.architecture_trial import TrialResult

AUTO = "auto"
# Without --architecture: the smallest family, fastest to train and to serve, and the
# least able to memorise a folder of a few hundred photos. `auto` measures instead.
PROPOSED_ARCHITECTURE = "lenet"
PLATFORM_APPS = (ADMIN_APP, INGEST_APP, RECLASSIFY_APP)
# A trial's time besides the training budget, per family (tracing the train step, scoring,
# timing): 7 families took 65 s over a 30 s budget on 2 busy cores.
TRIAL_EXTRA_S_PER_FAMILY = 10

Say = Callable[[str], None]


@dataclass(frozen=True)
class AddRequest:
    name: str
    source: str  # local path or fsspec URL
    architecture: str | None = None  # a zoo family, AUTO, or None: PROPOSED_ARCHITECTURE
    input_shape: tuple[int, int, int] | None = None  # None: proposed from the images
    schedule: str | None = None  # None: the fleet's default (@monthly)
    test_url: str | None = None
    test_fraction: float | None = None
    trial_budget_s: float = 600.0  # with AUTO: training time of all families together


@dataclass(frozen=True)
class Plan:
    summary: FolderSummary
    proposal: Proposal
    trial: TrialResult | None = None  # with AUTO


def check_request(request: AddRequest, settings: Settings) -> None:
    """What can be refused before reading a single image."""
    if not WORKFLOW_NAME.match(request.name):
        raise ConfigError(
            f"workflow name {request.name!r} must match {WORKFLOW_NAME.pattern} "
            "(lower case, digits and _, starting with a letter)"
        )
    if request.architecture not in (None, AUTO, *FAMILIES):
        raise ConfigError(
            f"--architecture {request.architecture!r} is not one of {', '.join(FAMILIES)} or {AUTO}"
        )
    if request.test_url is not None and request.test_fraction is not None:
        raise ConfigError("give either --test URL or --test-fraction, not both")
    fleet = load_fleet(settings.config_file, settings.workflows_d)
    if request.name in fleet.workflows:
        where = fleet.user_workflows.get(request.name, str(settings.config_file))
        raise ConfigError(f"workflow {request.name!r} is declared already, in {where}")
    target = workflow_file(request.name, settings.workflows_d)
    if target.exists():
        raise ConfigError(f"{target} exists already; remove it or choose another name")


def plan(request: AddRequest, settings: Settings, say: Say) -> Plan:
    """Inspect the folder and propose the workflow; nothing is written."""
    check_request(request, settings)
    say(f"inspecting {request.source} (every image is read once) ...")
    summary = inspect_folder(
        request.source,
        test_url=request.test_url,
        test_fraction=request.test_fraction,
        progress=lambda done, total: say(f"  read {done} of {total} images"),
    )
    if summary.files:  # an empty folder has no table to show, only its problems
        for line in summary.lines():
            say(line)
    if summary.problems:
        raise DataError(
            f"{summary.url}: cannot become workflow {request.name!r}: "
            + "; ".join(summary.problems)
        )
    architecture = request.architecture or PROPOSED_ARCHITECTURE
    proposal = propose_workflow(
        summary,
        request.name,
        architecture=PROPOSED_ARCHITECTURE if architecture == AUTO else architecture,
        input_shape=request.input_shape,
        schedule=request.schedule,
        defaults=fleet_defaults(settings.config_file),
    )
    if request.architecture is None:
        proposal = _noted(
            proposal,
            f"architecture {PROPOSED_ARCHITECTURE}: proposed (the fewest parameters, fastest "
            "to train and serve); --architecture auto trains every family on this data "
            "to choose",
        )
    # The draft validates against the fleet before anything is trained or written.
    draft = check_workflow(
        request.name,
        proposal.entry,
        config_file=settings.config_file,
        user_dir=settings.workflows_d,
    ).get(request.name)
    if architecture != AUTO:
        return Plan(summary, proposal)
    from modelfleet.training.architecture_trial import trial

    minutes = request.trial_budget_s / 60
    extra = len(FAMILIES) * TRIAL_EXTRA_S_PER_FAMILY / 60
    say(
        f"zoo trial: {len(FAMILIES)} families share {minutes:g} min of training on this "
        "folder's latest months; tracing, scoring and timing add about "
        f"{TRIAL_EXTRA_S_PER_FAMILY} s each (expect about {minutes + extra:.0f} min in all)"
    )
    result = trial(draft, request.trial_budget_s, progress=lambda line: say(f"  {line}"))
    family = result.recommendation.family
    proposal = _noted(
        replace(proposal, entry={**proposal.entry, "architecture": family}),
        f"architecture {family}: the zoo trial's pick; {result.recommendation.reason}",
    )
    return Plan(summary, proposal, result)


def _noted(proposal: Proposal, note: str) -> Proposal:
    return replace(proposal, notes=[*proposal.notes, note])


def add(plan: Plan, settings: Settings, say: Say, *, actor: str) -> Applied:
    """Write the planned workflow everywhere, or nowhere."""
    name, entry = plan.proposal.name, plan.proposal.entry
    config_file, user_dir = settings.config_file, settings.workflows_d
    stamp = datetime.now(UTC)

    def fleet_after() -> Fleet:
        return check_workflow(name, entry, config_file=config_file, user_dir=user_dir)

    def change_files() -> Undo:
        path = write_workflow(
            name,
            entry,
            config_file=config_file,
            user_dir=user_dir,
            comment="\n".join(
                [
                    f"`modelfleet workflow add {name} --from {plan.summary.url}` by {actor}.",
                    "Proposed from the folder's images:",
                    *(f"  {note}" for note in plan.proposal.notes),
                ]
            ),
        )
        return lambda: path.unlink(missing_ok=True)

    def change_registry(session: Session, fleet: Fleet) -> None:
        granted = grant_platform_apps(session, name, fleet, actor=actor)
        workflow_events.record_added(
            session,
            name,
            actor=actor,
            reason=f"workflow add from {plan.summary.url}",
            detail={
                "file": str(workflow_file(name, user_dir)),
                "source": plan.summary.url,
                "architecture": entry["architecture"],
                "granted": granted,
                "at": stamp.isoformat(),
            },
        )

    change = FleetChange(
        message=f"Add workflow {name} (from {plan.summary.url})",
        fleet_after=fleet_after,
        change_files=change_files,
        change_registry=change_registry,
    )
    applied = apply(settings, change, say)
    # The folder exists as soon as the command returns, so a producer can write into it
    # before the stream's next fleet reload (which would make it too).
    (settings.landing / name).mkdir(parents=True, exist_ok=True)
    return applied


def grant_platform_apps(session: Session, workflow: str, fleet: Fleet, *, actor: str) -> list[str]:
    """Grant the platform's own applications the new workflow at production, as `up`
    does for the fleet it starts with; returns those granted."""
    granted = []
    for app in PLATFORM_APPS:
        try:
            current = applications.get_application(session, app)
        except NotFound:
            continue  # not created (yet): `up` creates it with every workflow
        if workflow in current.grants:
            continue
        applications.set_grant(
            session,
            app,
            workflow,
            PRODUCTION,
            actor=actor,
            reason=f"workflow {workflow} added",
            workflows=fleet.workflows,
        )
        granted.append(app)
    return granted


def unpause_if_paused(settings: Settings, dag_id: str, say: Say) -> None:
    """A DAG Airflow knew before (the name was archived, and paused by someone) keeps its
    pause state when it comes back: unpause it, if Airflow runs. A new DAG is created
    unpaused by the DAG factory and needs nothing."""
    from modelfleet.orchestration.airflow_client import AirflowClient
    from modelfleet.orchestration.airflow_env import ADMIN_USER, admin_password

    client = AirflowClient(settings.airflow_url, ADMIN_USER, "")
    if not client.healthy():
        say(
            f"Airflow does not answer at {settings.airflow_url}: {dag_id} appears when the "
            "platform runs (`modelfleet up`)"
        )
        return
    client = AirflowClient(settings.airflow_url, ADMIN_USER, admin_password(settings))
    try:
        dag = client.dag(dag_id)
        if dag is not None and dag.get("is_paused"):
            client.set_paused(dag_id, False)
            say(f"unpaused {dag_id} (Airflow knew it from before, paused)")
    except PlatformError as exc:
        say(f"could not check whether {dag_id} is paused: {exc}")
