"""`modelfleet simulate-year` (`make year`): every workflow, every month, through Airflow.

1. Bring the platform up (idempotent) and give the load generator an application
   of its own, pinned to `production` for every workflow.
2. Create one `retrain__<wf>` run per month over the REST API and unpause the
   DAGs: Airflow's scheduler runs them, month after month per workflow.
3. Meanwhile query every served workflow; every non-200 answer is a failure.
4. At the end check the registry (GTO vs Postgres, `dvc pull` of sampled
   versions, one bit-for-bit reproduction) and write the report.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.config import Fleet, load_fleet
from modelfleet.datasets.sources import source_months
from modelfleet.errors import ConfigError, NotFound
from modelfleet.harness.year import report
from modelfleet.harness.year.load import LoadGenerator
from modelfleet.harness.year.runs import YearRun, create_runs, hold_catch_up, wait_for_year
from modelfleet.harness.year.verify import verify_year
from modelfleet.months import add_months, month_index
from modelfleet.naming import PRODUCTION
from modelfleet.orchestration.airflow_client import AirflowClient
from modelfleet.orchestration.airflow_env import ADMIN_USER, admin_password
from modelfleet.platform.up import up
from modelfleet.registry import db
from modelfleet.registry.store import applications
from modelfleet.registry.tables import AliasEventRow
from modelfleet.settings import CHECKOUT, Settings

LOAD_APP = "year-load"


@dataclass(frozen=True)
class YearPlan:
    workflows: list[str]
    months: list[str]
    clients: int = 2
    rate_per_client: float = 5.0
    timeout_min: float = 240.0
    report_path: Path = CHECKOUT / "docs" / "year-report.md"


def fleet_months(fleet: Fleet) -> list[str]:
    """From the earliest month any source holds to the latest: the year of data (a
    folder source's months are those its folder holds)."""
    held = [month for wf in fleet.workflows.values() for month in source_months(wf)]
    first, last = min(held), max(held)
    return [add_months(first, i) for i in range(month_index(last, first) + 1)]


def plan_from(fleet: Fleet, only: str | None, months: str | None, **options: object) -> YearPlan:
    """`only`: comma-separated workflows; `months`: `YYYY-MM:YYYY-MM` or a count."""
    workflows = sorted(fleet.workflows)
    if only:
        workflows = [w.strip() for w in only.split(",") if w.strip()]
        unknown = sorted(set(workflows) - set(fleet.workflows))
        if unknown:
            raise ConfigError(
                f"--only names unknown workflows {unknown}; known: {sorted(fleet.workflows)}"
            )
    every = fleet_months(fleet)
    chosen = every
    if months:
        if ":" in months:
            first, last = months.split(":", 1)
            chosen = [m for m in every if first <= m <= last]
        elif months.isdigit():
            chosen = every[: int(months)]
        if not chosen:
            raise ConfigError(f"--months {months!r} selects none of {every[0]}..{every[-1]}")
    # the CLI's other options, by YearPlan's field names (typed there, not in **options)
    return YearPlan(workflows=workflows, months=chosen, **options)  # type: ignore[arg-type]


def load_key(settings: Settings, workflows: list[str]) -> str:
    """A fresh key for the load generator's application (created on first use)."""
    with Session(db.engine()) as session, session.begin():
        try:
            applications.get_application(session, LOAD_APP)
        except NotFound:
            key = applications.create_application(
                session,
                LOAD_APP,
                grants=dict.fromkeys(workflows, PRODUCTION),
                actor="modelfleet simulate-year",
            )
            assert key is not None
            return key
        for workflow in workflows:
            applications.set_grant(
                session,
                LOAD_APP,
                workflow,
                PRODUCTION,
                actor="modelfleet simulate-year",
                reason="the year's load generator",
            )
        return applications.issue_key(session, LOAD_APP)


def promotions_since(moment: datetime) -> int:
    with Session(db.engine()) as session:
        return session.execute(
            sa.select(sa.func.count())
            .select_from(AliasEventRow)
            .where(AliasEventRow.alias == PRODUCTION, AliasEventRow.at >= moment)
        ).scalar_one()


def simulate_year(settings: Settings, plan: YearPlan, command: str) -> str:
    fleet = load_fleet(settings.config_file)
    say(
        f"{len(plan.workflows)} workflows × {len(plan.months)} months "
        f"({plan.months[0]}..{plan.months[-1]}) = {len(plan.workflows) * len(plan.months)} runs"
    )
    up(settings)
    client = AirflowClient(settings.airflow_url, ADMIN_USER, admin_password(settings))
    load = LoadGenerator(
        settings.endpoint_url,
        load_key(settings, plan.workflows),
        plan.workflows,
        clients=plan.clients,
        rate_per_client=plan.rate_per_client,
    )
    year = [
        YearRun(wf, fleet.get(wf).dag_id, month) for wf in plan.workflows for month in plan.months
    ]
    began_at = datetime.now(UTC)
    began = time.monotonic()
    load.start()
    try:
        for dag_id in sorted({run.dag_id for run in year}):
            client.wait_for_dag(dag_id)
        say(f"created {create_runs(client, year)} runs (the rest existed: resuming)")
        dag_ids = sorted({run.dag_id for run in year})
        held = hold_catch_up(client, dag_ids, plan.months)
        if held:
            say(f"{held} is outside the plan: its scheduled catch-up run is held (failed, not run)")
        for dag_id in dag_ids:
            client.set_paused(dag_id, False)

        def progress(done: dict[YearRun, str], elapsed: float) -> None:
            tally = ", ".join(f"{n} {o}" for o, n in Counter(done.values()).most_common())
            served = load.summary()
            say(
                f"{elapsed / 60:5.1f} min: {len(done)}/{len(year)} runs done ({tally or 'none yet'}); "
                f"load: {served.requests} requests, {served.failed} failed, "
                f"p99 {served.p99_ms:.0f} ms"
            )

        outcomes = wait_for_year(client, year, progress, plan.timeout_min * 60)
    finally:
        served = load.stop()
    wall_s = time.monotonic() - began
    if len(outcomes) < len(year):
        say(
            f"stopped waiting after {wall_s / 60:.1f} min: {len(outcomes)}/{len(year)} runs "
            "finished (the rest go on in Airflow); reporting on those"
        )
    say(f"the year took {wall_s / 60:.1f} min; checking the registry")
    verification = verify_year(settings, plan.workflows)
    records = report.collect(client, outcomes)
    text = report.render(
        command=command,
        records=records,
        wall_s=wall_s,
        load=served,
        verification=verification,
        promotions_under_load=promotions_since(began_at),
        facts=report.Facts.gather(settings, plan.workflows),
        planned=len(year),
    )
    plan.report_path.parent.mkdir(parents=True, exist_ok=True)
    plan.report_path.write_text(text)
    say(f"report written to {plan.report_path}")
    return text


def say(message: str) -> None:
    print(f"[year] {message}", file=sys.stdout, flush=True)
