"""Run every workflow's `retrain__<wf>` DAG for one month through the Airflow scheduler.

Needs a running platform (`modelfleet up`). Unpauses every DAG; the scheduler then
creates the monthly run for the latest completed interval (that is what `@monthly`
with catchup off does). With `--month`, runs for that month are triggered over the
REST API instead (the DAGs still get unpaused, so the scheduled run happens too).
Waits, then prints per workflow: architecture, run state, gate verdict, test
accuracy, fit time and run wall time, and writes the table to docs/fleet-month.md.

    .venv/bin/python bench/fleet_month.py [--month 2026-01] [--only a,b,c]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.config import load_fleet
from modelfleet.orchestration.airflow_client import TERMINAL, AirflowClient
from modelfleet.orchestration.airflow_env import ADMIN_USER, admin_password
from modelfleet.registry import db
from modelfleet.registry.tables import (
    EvaluationRow,
    GateDecisionRow,
    TrainingRunRow,
    WorkflowRow,
)
from modelfleet.settings import CHECKOUT, get_settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--month", help="trigger this month (default: the scheduled one)")
    parser.add_argument("--only", help="comma-separated workflows (default: all)")
    args = parser.parse_args()
    settings = get_settings()
    fleet = load_fleet(settings.config_file)
    names = args.only.split(",") if args.only else sorted(fleet.workflows)
    client = AirflowClient(settings.airflow_url, ADMIN_USER, admin_password(settings))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    started: dict[str, float] = {}
    runs: dict[str, str] = {}
    for name in names:
        dag_id = fleet.get(name).dag_id
        client.wait_for_dag(dag_id)
        client.set_paused(dag_id, False)
        if args.month:
            runs[name] = f"fleet__{args.month}__{stamp}"
            client.trigger(dag_id, runs[name], {"month": args.month})
        started[name] = time.monotonic()
    for name in names:
        while name not in runs:  # the scheduler creates the run shortly after unpausing
            scheduled = client.runs(fleet.get(name).dag_id, run_type="scheduled")
            if scheduled:
                runs[name] = scheduled[-1]
            else:
                time.sleep(2)
    began = time.monotonic()
    states: dict[str, str] = {}
    wall: dict[str, float] = {}
    while len(states) < len(names):
        for name in names:
            if name in states:
                continue
            state = client.run_state(fleet.get(name).dag_id, runs[name])
            if state in TERMINAL:
                states[name] = state
                wall[name] = time.monotonic() - started[name]
                print(f"{name:24} {state:8} after {wall[name]:6.0f}s", flush=True)
        time.sleep(5)
    total = time.monotonic() - began
    rows = report(fleet, names, runs, states, wall)
    table = [
        "| workflow | architecture | run | gate | test accuracy | fit s | run wall s |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]
    text = (
        f"# One month of the fleet\n\n"
        f"`.venv/bin/python bench/fleet_month.py{' --month ' + args.month if args.month else ''}` "
        f"on {datetime.now(UTC):%Y-%m-%d}, 2 cores, all {len(names)} DAGs unpaused at once "
        f"and run by the Airflow scheduler (LocalExecutor, parallelism 4); "
        f"they finished in {total / 60:.1f} min.\n\n" + "\n".join(table) + "\n"
    )
    (CHECKOUT / "docs" / "fleet-month.md").write_text(text)
    print(text)


def report(fleet, names, runs, states, wall) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    with Session(db.engine()) as session:
        for name in names:
            training = session.execute(
                sa.select(TrainingRunRow)
                .join(WorkflowRow, WorkflowRow.id == TrainingRunRow.workflow_id)
                .where(WorkflowRow.name == name, TrainingRunRow.run_id == runs[name])
            ).scalar()
            accuracy = gate = fit = "-"
            if training is not None:
                fit = f"{training.fit_seconds:.1f}"
                metrics = session.execute(
                    sa.select(EvaluationRow.metrics).where(
                        EvaluationRow.training_run_id == training.id,
                        EvaluationRow.role == "candidate",
                        EvaluationRow.split == "test",
                    )
                ).scalar()
                accuracy = "-" if metrics is None else f"{metrics['accuracy']:.3f}"
                decision = session.execute(
                    sa.select(GateDecisionRow.passed).where(
                        GateDecisionRow.training_run_id == training.id
                    )
                ).scalar()
                gate = "-" if decision is None else ("passed" if decision else "rejected")
            out.append(
                f"| {name} | {fleet.get(name).architecture} | {states[name]} | {gate} | "
                f"{accuracy} | {fit} | {wall[name]:.0f} |"
            )
    return out


if __name__ == "__main__":
    main()
