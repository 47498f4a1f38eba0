"""The year's DAG runs: created over Airflow's REST API, executed by its scheduler.

Each `retrain__<wf>` gets one run per month, `year__YYYY-MM`, with the logical date
and data interval the monthly schedule gives that month (the run trains on the
month its interval starts in, also named in its conf). The months' intervals need
not have ended yet: the simulation runs the months of data the sources hold. A
month whose logical date is still ahead gets a run without one, because Airflow's
scheduler never starts a task of a run dated in the future. Runs of one DAG queue behind
one another (`max_active_runs=1`); the scheduler runs workflows side by side as
its parallelism and the training pool allow. Creating a run that exists already
is skipped, so an interrupted year resumes where it stopped.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from modelfleet.errors import PlatformError
from modelfleet.months import add_months, month_of
from modelfleet.orchestration.airflow_client import TERMINAL, AirflowClient

# What a finished run did, read from its task states (its home is orchestration.outcomes).
from modelfleet.orchestration.outcomes import (  # noqa: F401 (the report reads them here)
    GATE_REJECTED,
    NO_DATA,
    NOT_MOVED,
    NOT_STARTED,
    PROMOTED,
    ROLLED_BACK,
    VALIDATION_STOPPED,
    outcome,
)

RUN_PREFIX = "year__"
POLL_S = 15.0


@dataclass(frozen=True)
class YearRun:
    workflow: str
    dag_id: str
    month: str

    @property
    def run_id(self) -> str:
        return f"{RUN_PREFIX}{self.month}"


def _moment(month: str) -> str:
    return f"{month}-01T00:00:00Z"


def create_runs(client: AirflowClient, runs: list[YearRun]) -> int:
    """Create the runs that do not exist yet, month by month; returns how many were new."""
    created = 0
    for run in sorted(runs, key=lambda r: (r.month, r.workflow)):
        try:
            client.call(
                "POST", f"/dags/{run.dag_id}/dagRuns", json=_run_body(run.run_id, run.month)
            )
            created += 1
        except PlatformError as exc:
            if "409" not in str(exc):  # 409: the run exists (a resumed year)
                raise
    return created


def hold_catch_up(client: AirflowClient, dag_ids: list[str], months: list[str]) -> str | None:
    """Keep the scheduler from adding a run of its own when the DAGs are unpaused.

    With `catchup=False`, unpausing makes the scheduler create the run of the latest
    completed interval, unless a run holds that logical date already. When the plan
    covers that month, its own run does; otherwise (a part of the year) a run for it is
    created here while the DAGs are still paused and marked failed before it can start,
    so nothing outside the plan trains or moves production. Returns the month held.
    """
    latest = add_months(month_of(datetime.now(UTC)), -1)
    if latest in months:
        return None
    for dag_id in dag_ids:
        run_id = f"{RUN_PREFIX}hold__{latest}"
        body = _run_body(run_id, latest)
        try:
            client.call("POST", f"/dags/{dag_id}/dagRuns", json=body)
        except PlatformError as exc:
            if "409" not in str(exc):
                raise
            continue  # that interval has a run already: nothing to hold
        client.call(
            "PATCH",
            f"/dags/{dag_id}/dagRuns/{run_id}",
            json={"state": "failed", "note": "not run: keeps the catch-up run out of the year"},
        )
    return latest


def _run_body(run_id: str, month: str) -> dict[str, Any]:
    """A run with the logical date and data interval the monthly timetable gives `month`.

    If that date is still ahead, the run has no logical date (a manual run, started at
    once) and trains on `month` from its conf: Airflow would hold a run dated in the
    future until that date.
    """
    body: dict[str, Any] = {"dag_run_id": run_id, "conf": {"month": month}}
    if month > month_of(datetime.now(UTC)):  # dated the 1st of a month still to come
        return {**body, "logical_date": None}
    return {
        **body,
        "logical_date": _moment(month),
        "data_interval_start": _moment(month),
        "data_interval_end": _moment(add_months(month, 1)),
    }


def wait_for_year(
    client: AirflowClient,
    runs: list[YearRun],
    progress: Callable[[dict[YearRun, str], float], None],
    timeout_s: float,
) -> dict[YearRun, str]:
    """Poll until every run has finished, or `timeout_s` passed; returns the outcome of
    each run that finished (the others go on in Airflow)."""
    began = time.monotonic()
    done: dict[YearRun, str] = {}
    by_dag: dict[str, list[YearRun]] = {}
    for run in runs:
        by_dag.setdefault(run.dag_id, []).append(run)
    last_report = 0.0
    while len(done) < len(runs):
        if time.monotonic() - began > timeout_s:
            progress(done, time.monotonic() - began)
            return done
        for dag_id, dag_runs in by_dag.items():
            if all(r in done for r in dag_runs):
                continue
            states = run_states(client, dag_id)
            for run in dag_runs:
                if run not in done and states.get(run.run_id) in TERMINAL:
                    done[run] = outcome(client.task_states(dag_id, run.run_id), states[run.run_id])
        if time.monotonic() - last_report >= 60 or len(done) == len(runs):
            progress(done, time.monotonic() - began)
            last_report = time.monotonic()
        if len(done) < len(runs):
            time.sleep(POLL_S)
    return done


def run_states(client: AirflowClient, dag_id: str) -> dict[str, str]:
    listed = client.call(
        "GET", f"/dags/{dag_id}/dagRuns", params={"run_id_pattern": RUN_PREFIX, "limit": 100}
    ).json()["dag_runs"]
    return {r["dag_run_id"]: r["state"] for r in listed}


def tally(outcomes: dict[YearRun, str]) -> Counter[str]:
    return Counter(outcomes.values())


def task_instances(client: AirflowClient, run: YearRun) -> list[dict[str, Any]]:
    return client.call("GET", f"/dags/{run.dag_id}/dagRuns/{run.run_id}/taskInstances").json()[
        "task_instances"
    ]


def run_times(client: AirflowClient, run: YearRun) -> tuple[datetime, datetime] | None:
    detail = client.call("GET", f"/dags/{run.dag_id}/dagRuns/{run.run_id}").json()
    if not detail.get("start_date") or not detail.get("end_date"):
        return None
    return _parse(detail["start_date"]), _parse(detail["end_date"])


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)
