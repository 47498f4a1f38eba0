"""`modelfleet retrain`: trigger a workflow's `retrain__<wf>` over Airflow's REST API, as the
UI's Trigger button does, and follow the run to its outcome.

The run is a manual run whose logical date is "now" (the Trigger form's default). Its
conf names the month it trains on (`{"month": "YYYY-MM"}`): the one asked for, else the
latest month with data (the DAG's own rule for a manual run without a month, taken here so
that the run id and the report say which). Only a workflow with no month with data at all
sends no month: the DAG then takes the month its data interval starts in, and Airflow gives
a manual run the last complete interval of the schedule before now (under `@monthly`, the
previous calendar month).

A paused DAG is not unpaused behind the caller's back: Airflow would queue the run and
never start it, and unpausing also starts the monthly schedule, whose first act (with
`catchup=False`) is a run of the latest complete interval. `unpause=True` (`--unpause`)
does it and says so; without it a paused DAG is an error that names the fix.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from modelfleet.config import Fleet, Workflow
from modelfleet.errors import ConfigError, PlatformError, RunTimedOut
from modelfleet.months import month_of
from modelfleet.naming import RETRAIN_DAG_PREFIX
from modelfleet.orchestration import outcomes
from modelfleet.orchestration.airflow_client import AirflowClient
from modelfleet.orchestration.months_with_data import latest_month_with_data
from modelfleet.registry import db
from modelfleet.registry.store.lineage import version_of_airflow_run
from modelfleet.registry.store.runs import gate_decision_of_airflow_run
from modelfleet.settings import AIRFLOW_PORT_ENV

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
# A workflow added a moment ago reaches Airflow at the dag-processor's next parse.
DAG_WAIT_S = 60.0
LOG_TAIL = 15
TIMED_OUT = "timed out"
# Lines of a task log that only frame it.
_LOG_NOISE = re.compile(r"^::(end)?group::")

Say = Callable[[str], None]
Progress = Callable[[str, str], None]
TaskLog = Callable[[str, int], list[str]]
LatestMonth = Callable[[Workflow, datetime], str | None]


@dataclass(frozen=True)
class RetrainRequest:
    workflow: str
    month: str | None = None  # None: the latest month with data
    unpause: bool = False  # unpause a paused DAG (which also starts its schedule)
    run_prefix: str = "cli"  # run ids are <prefix>__<month>__<time>


@dataclass(frozen=True)
class TriggeredRun:
    workflow: str
    dag_id: str
    run_id: str
    month: str  # the month the run trains on
    url: str  # the run in the Airflow UI


@dataclass(frozen=True)
class RunRecords:
    """What the run wrote to the registry: the version it registered, its gate decision."""

    version: dict[str, Any] | None = None  # workflow, version, tag
    gate: dict[str, Any] | None = None  # passed, checks (each with its detail), override


@dataclass(frozen=True)
class RetrainOutcome:
    run: TriggeredRun
    state: str  # Airflow's run state (success, failed; running when timed out)
    outcome: str  # one of modelfleet.orchestration.outcomes, or TIMED_OUT
    exit_code: int  # 0 released, 3 rejected by the gate, 4 no data, 1 failed or timed out
    records: RunRecords = field(default_factory=RunRecords)
    task: str | None = None  # the task that skipped or failed the run
    reason: list[str] = field(default_factory=list)  # its log tail, or why we stopped waiting

    @property
    def version(self) -> str | None:
        return None if self.records.version is None else self.records.version["version"]


def check_month(month: str | None) -> str | None:
    """`month` if it is YYYY-MM (or None), else a ConfigError."""
    if month is not None and not MONTH.match(month):
        raise ConfigError(f"month {month!r} is not YYYY-MM (e.g. 2026-03)")
    return month


def trigger(
    client: AirflowClient,
    fleet: Fleet,
    request: RetrainRequest,
    say: Say,
    latest: LatestMonth = latest_month_with_data,
) -> TriggeredRun:
    """Create the run (after checking the workflow, Airflow and the DAG); returns it.
    `latest`: the latest month `workflow` had data for at a moment (a seam for tests)."""
    workflow = fleet.get(request.workflow)  # ConfigError names the fleet's workflows
    month = check_month(request.month)
    if not client.healthy():
        raise PlatformError(
            f"Airflow does not answer at {client.base_url}: start the platform with "
            f"`modelfleet up` (or point {AIRFLOW_PORT_ENV} at yours)"
        )
    dag_id = workflow.dag_id
    dag = _existing_dag(client, dag_id, say)
    if dag.get("is_paused"):
        if not request.unpause:
            raise PlatformError(
                f"{dag_id} is paused: Airflow would queue the run and never start it. Unpause "
                f"it (the toggle in the Airflow UI, or `modelfleet retrain {workflow.name} "
                "--unpause`); that also starts its monthly schedule, whose first run takes "
                "the latest complete interval"
            )
        client.set_paused(dag_id, False)
        say(f"unpaused {dag_id}: its {workflow.schedule} schedule runs from now on too")
    now = datetime.now(UTC)
    month = month or latest(workflow, now)
    run_id = (
        f"{request.run_prefix}__{month or 'interval'}__"
        f"{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}"
    )
    created = client.trigger(dag_id, run_id, {"month": month} if month else {}, logical_date=now)
    return TriggeredRun(
        workflow=workflow.name,
        dag_id=dag_id,
        run_id=run_id,
        month=month or _interval_month(created),
        url=f"{client.base_url}/dags/{dag_id}/runs/{run_id}",
    )


def _existing_dag(client: AirflowClient, dag_id: str, say: Say) -> dict[str, Any]:
    dag = client.dag(dag_id)
    if dag is not None:
        return dag
    say(f"Airflow has no {dag_id} yet; waiting up to {DAG_WAIT_S:.0f}s for its DAG processor")
    try:
        client.wait_for_dag(dag_id, timeout_s=DAG_WAIT_S)
    except PlatformError as exc:
        known = [d.removeprefix(RETRAIN_DAG_PREFIX) for d in client.dag_ids(RETRAIN_DAG_PREFIX)]
        raise PlatformError(
            f"Airflow has no DAG {dag_id}; the workflows it knows: "
            f"{', '.join(known) or 'none'} ({exc})"
        ) from None
    found = client.dag(dag_id)
    assert found is not None  # wait_for_dag saw it
    return found


def _interval_month(created: dict[str, Any]) -> str:
    start = created.get("data_interval_start")
    if not start:
        raise PlatformError(
            f"Airflow gave run {created.get('dag_run_id')} no data interval, so it has no "
            "month to train on; pass --month YYYY-MM"
        )
    return month_of(datetime.fromisoformat(start.replace("Z", "+00:00")))


def follow(
    client: AirflowClient,
    run: TriggeredRun,
    timeout_s: float,
    progress: Progress,
    records: Callable[[TriggeredRun], RunRecords] | None = None,
    poll_s: float = 3.0,
) -> RetrainOutcome:
    """Wait for the run, reporting each task's state change; then say what it did.

    `records` reads what the run wrote to the registry (default: Postgres).
    """
    try:
        state = client.wait_for_run(run.dag_id, run.run_id, timeout_s, progress, poll_s)
    except RunTimedOut as exc:
        return RetrainOutcome(
            run, "running", TIMED_OUT, outcomes.EXIT_FAILED, reason=[f"stopped waiting: {exc}"]
        )
    tasks = client.task_instances(run.dag_id, run.run_id)
    recorded = (records or registry_records)(run)
    return explain(run, state, tasks, recorded, _log_reader(client, run))


def registry_records(run: TriggeredRun) -> RunRecords:
    """The version and gate decision the run recorded in Postgres."""
    with Session(db.engine()) as session:
        return RunRecords(
            version=version_of_airflow_run(session, run.dag_id, run.run_id),
            gate=gate_decision_of_airflow_run(session, run.dag_id, run.run_id),
        )


def _log_reader(client: AirflowClient, run: TriggeredRun) -> TaskLog:
    def read(task_id: str, try_number: int) -> list[str]:
        return client.task_log(run.dag_id, run.run_id, task_id, try_number)

    return read


def explain(
    run: TriggeredRun,
    state: str,
    task_instances: list[dict[str, Any]],
    records: RunRecords,
    task_log: TaskLog,
) -> RetrainOutcome:
    """The outcome of a finished run: what it did and, if it skipped or failed, why."""
    states = {ti["task_id"]: ti["state"] for ti in task_instances}
    kind = outcomes.outcome(states, state)
    code = outcomes.exit_code(kind)
    task = outcomes.deciding_task(states, kind)
    reason: list[str] = []
    if task is not None and kind != outcomes.GATE_REJECTED:  # the gate's reasons are rows
        tried = next(ti for ti in task_instances if ti["task_id"] == task)
        reason = _why(task_log(task, max(1, int(tried.get("try_number") or 1))), kind)
    return RetrainOutcome(run, state, kind, code, records, task, reason)


def _why(lines: list[str], kind: str) -> list[str]:
    """The lines of a task log that say why it skipped or failed."""
    lines = [line for line in lines if line.strip() and not _LOG_NOISE.match(line)]
    if kind == outcomes.NO_DATA:
        skipped = [line for line in lines if line.startswith("Skipping task.")]
        if skipped:
            return skipped
    return lines[-LOG_TAIL:]


def describe(result: RetrainOutcome) -> list[str]:
    """What a person reads at the end of `modelfleet retrain --wait`."""
    run, records = result.run, result.records
    what = f"{run.workflow} {run.month}"
    tag = records.version["tag"] if records.version else None
    if result.outcome == outcomes.PROMOTED:
        lines = [f"released {tag} ({what}): now in production", *_gate_lines(records)]
    elif result.outcome == outcomes.NOT_MOVED:
        lines = [
            f"released {tag} ({what}); production stays at a newer version",
            *_gate_lines(records),
        ]
    elif result.outcome == outcomes.GATE_REJECTED:
        lines = [
            f"rejected by the gate ({what}): production is unchanged",
            *_gate_lines(records, failed_only=True),
            f"to release it anyway: modelfleet approve {run.workflow} --reason '...'",
        ]
    elif result.outcome == outcomes.NO_DATA:
        lines = [f"skipped: no data for {what}", *(f"  {line}" for line in result.reason)]
    elif result.outcome == TIMED_OUT:
        lines = [f"timed out ({what})", *(f"  {line}" for line in result.reason)]
    else:
        where = f" at {result.task}" if result.task else ""
        lines = [f"failed{where} ({what}): {result.outcome}"]
        if result.reason:
            lines.append(f"  last lines of the {result.task} log:")
            lines += [f"    {line}" for line in result.reason]
    return [*lines, f"run {run.run_id}: {run.url}"]


def _gate_lines(records: RunRecords, failed_only: bool = False) -> list[str]:
    gate = records.gate
    if gate is None:
        return ["  (no gate decision recorded)"]
    verdict = "passed" if gate["passed"] else "rejected"
    if gate.get("override_actor"):
        verdict = f"approved by {gate['override_actor']}: {gate['override_reason']}"
    checks = [c for c in gate["checks"] if not (failed_only and c["passed"])]
    return [
        f"  gate {verdict}:",
        *(f"    {'ok  ' if c['passed'] else 'FAIL'} {c['name']}: {c['detail']}" for c in checks),
    ]
