"""`docs/year-report.md`: what the year made, how long each step took, what it left behind.

Timings come from Airflow's task instances (what the scheduler measured), fit
time from the training run each `train` task recorded. A run's *platform
overhead* is the time its tasks ran minus `model.fit`: snapshot, validation, DVC,
evaluation, tagging, export, deployment and smoke. Waiting in the scheduler's
queue (for a pool slot or a free executor slot) is reported apart, as it measures
the machine's capacity rather than the platform's work.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.harness.year import runs as year_runs
from modelfleet.harness.year.load import LoadSummary
from modelfleet.harness.year.runs import YearRun
from modelfleet.harness.year.verify import Verification
from modelfleet.host.cores import usable_cores
from modelfleet.naming import RETRAIN_DAG_PREFIX
from modelfleet.orchestration.airflow_client import AirflowClient
from modelfleet.registry import db
from modelfleet.registry.store import versions
from modelfleet.registry.tables import Base, TrainingRunRow
from modelfleet.settings import Settings

STEPS = ("snapshot", "validate", "train", "evaluate", "gate", "register", "deploy", "smoke")


@dataclass(frozen=True)
class RunRecord:
    run: YearRun
    outcome: str
    states: dict[str, str | None]
    durations: dict[str, float]  # task -> seconds it ran
    queued_s: float  # summed time its tasks waited to start once they could
    wall_s: float | None
    fit_s: float | None

    @property
    def registered(self) -> bool:
        return self.states.get("register") == "success"

    @property
    def overhead_s(self) -> float:
        return sum(self.durations.values()) - (self.fit_s or 0.0)


def collect(client: AirflowClient, outcomes: dict[YearRun, str]) -> list[RunRecord]:
    fits = _fit_seconds([r.run_id for r in outcomes])
    records = []
    for run, result in sorted(outcomes.items(), key=lambda x: (x[0].workflow, x[0].month)):
        instances = year_runs.task_instances(client, run)
        durations = {
            ti["task_id"]: float(ti["duration"])
            for ti in instances
            if ti["duration"] is not None and ti["state"] in ("success", "failed")
        }
        queued = sum(
            max(0.0, (_time(ti["start_date"]) - _time(ti["queued_when"])).total_seconds())
            for ti in instances
            if ti.get("queued_when") and ti.get("start_date")
        )
        times = year_runs.run_times(client, run)
        records.append(
            RunRecord(
                run=run,
                outcome=result,
                states={ti["task_id"]: ti["state"] for ti in instances},
                durations=durations,
                queued_s=queued,
                wall_s=None if times is None else (times[1] - times[0]).total_seconds(),
                fit_s=fits.get((run.dag_id, run.run_id)),
            )
        )
    return records


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _fit_seconds(run_ids: list[str]) -> dict[tuple[str | None, str | None], float]:
    with Session(db.engine()) as session:
        rows = session.execute(
            sa.select(TrainingRunRow.dag_id, TrainingRunRow.run_id, TrainingRunRow.fit_seconds)
            .where(TrainingRunRow.run_id.in_(set(run_ids)))
            .order_by(TrainingRunRow.id)
        ).all()
    return {(dag_id, run_id): fit for dag_id, run_id, fit in rows}  # the last one wins


def row_counts() -> dict[str, int]:
    with Session(db.engine()) as session:
        return {
            table.name: session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables
        }


def folder_size(path: Path) -> tuple[int, int]:
    """(files, bytes) under `path`, following no links."""
    files = size = 0
    if path.is_dir():
        for item in path.rglob("*"):
            if item.is_file() and not item.is_symlink():
                files += 1
                size += item.stat().st_size
    return files, size


def _mib(size: int) -> str:
    return f"{size / 2**20:,.1f} MiB"


def _stats(values: list[float]) -> str:
    if not values:
        return "- | - | - | -"
    return (
        f"{sum(values):,.0f} | {statistics.median(values):.1f} | "
        f"{float(np.percentile(values, 90)):.1f} | {max(values):.1f}"
    )


def _wall_line(wall_s: float, finished: int, planned: int) -> str:
    if finished >= planned:
        return f"- **Wall time**: {wall_s / 60:.1f} min for the whole year."
    return (
        f"- **Wall time**: {wall_s / 60:.1f} min, with **{finished} of {planned} runs "
        "finished**; the others were not started or had not finished (cut short, or past "
        "`--timeout-min`), and every figure below covers the finished runs only."
    )


def render(
    *,
    command: str,
    records: list[RunRecord],
    wall_s: float,
    load: LoadSummary,
    verification: Verification,
    promotions_under_load: int,
    facts: Facts,
    planned: int | None = None,
) -> str:
    """The report; `planned` runs, where more than ran, makes it a partial year.

    Runs that never started (a year cut short) count only as planned, not in the tables.
    """
    planned = max(planned or 0, len(records))
    records = [r for r in records if r.outcome != year_runs.NOT_STARTED]
    workflows = sorted({r.run.workflow for r in records})
    months = sorted({r.run.month for r in records})
    outcomes = Counter(r.outcome for r in records)
    overheads = [r.overhead_s for r in records if r.fit_s is not None]
    lines = [
        "# A year of the fleet",
        "",
        f"`{command}` on {datetime.now().astimezone():%Y-%m-%d}, this machine "
        f"({usable_cores()} cores): {len(workflows)} workflows × {len(months)} months "
        f"({months[0]}..{months[-1]}) = {len(records)} `{RETRAIN_DAG_PREFIX}<wf>` runs "
        f"({planned} planned),"
        " created over "
        "Airflow's REST API with their monthly logical dates (a month still ahead of the "
        "day it ran: no logical date, the month in its conf) and run by its scheduler "
        "(LocalExecutor), while a load generator queried every served workflow.",
        "",
        "## Headline",
        "",
        _wall_line(wall_s, len(records), planned),
        f"- **Runs**: {', '.join(f'{n} {o}' for o, n in outcomes.most_common())}.",
        f"- **Versions**: {sum(r.registered for r in records)} registered, "
        f"{outcomes[year_runs.PROMOTED]} promoted to production.",
        f"- **Platform overhead per run** (all task time except `model.fit`, runs that "
        f"trained): median {_median(overheads):.1f} s, p90 {_p90(overheads):.1f} s.",
        f"- **Serving under load**: {load.requests:,} requests, **{load.failed} failed**, "
        f"p50 {load.p50_ms:.0f} ms, p99 {load.p99_ms:.0f} ms, across "
        f"{promotions_under_load} promotions.",
        f"- **Checks**: GTO vs Postgres {'agree' if not verification.disagreements else 'DISAGREE'}"
        f" ({verification.workflows_compared} workflows); "
        f"{sum(r.match for r in verification.restored)}/{len(verification.restored)} sampled "
        f"versions restored by `dvc pull` with matching sha256; reproduction "
        f"{_reproduction(verification)}.",
        "",
        "## Per workflow",
        "",
        "| workflow | runs | registered | promoted | gate rejected | validation stopped "
        "| no data | other | production at the end |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    production = facts.production
    known = {
        year_runs.PROMOTED,
        year_runs.GATE_REJECTED,
        year_runs.VALIDATION_STOPPED,
        year_runs.NO_DATA,
    }
    for wf in workflows:
        mine = [r for r in records if r.run.workflow == wf]
        count = Counter(r.outcome for r in mine)
        other = [f"{r.run.month}: {r.outcome}" for r in mine if r.outcome not in known]
        lines.append(
            f"| {wf} | {len(mine)} | {sum(r.registered for r in mine)} | "
            f"{count[year_runs.PROMOTED]} | {count[year_runs.GATE_REJECTED]} | "
            f"{count[year_runs.VALIDATION_STOPPED]} | {count[year_runs.NO_DATA]} | "
            f"{'; '.join(other) or 0} | {production.get(wf) or '-'} |"
        )
    lines += [
        "",
        "## Time per step",
        "",
        "Seconds each task ran, over the runs where it ran (Airflow task instances). "
        "`train` includes starting TensorFlow and DVC; `model.fit` is its own line.",
        "",
        "| step | runs | total s | median s | p90 s | max s |",
        "|---|---|---|---|---|---|",
    ]
    for step in STEPS:
        values = [r.durations[step] for r in records if step in r.durations]
        lines.append(f"| {step} | {len(values)} | {_stats(values)} |")
    fits = [r.fit_s for r in records if r.fit_s is not None]
    train_rest = [
        r.durations["train"] - r.fit_s for r in records if r.fit_s and "train" in r.durations
    ]
    lines += [
        f"| `model.fit` | {len(fits)} | {_stats(fits)} |",
        f"| train without `model.fit` | {len(train_rest)} | {_stats(train_rest)} |",
        f"| waiting in the queue | {len(records)} | {_stats([r.queued_s for r in records])} |",
        f"| run wall (first task queued to last done) | {len(records)} | "
        f"{_stats([r.wall_s for r in records if r.wall_s is not None])} |",
        "",
        "## Platform overhead per run",
        "",
        "Everything a run's tasks did except `model.fit`, for the runs that trained:",
        "",
        "| | median s | p90 s |",
        "|---|---|---|",
        f"| total | {_median(overheads):.1f} | {_p90(overheads):.1f} |",
    ]
    trained = [r for r in records if r.fit_s is not None]
    for step in STEPS:
        fit = {r.run: (r.fit_s or 0.0) if step == "train" else 0.0 for r in trained}
        values = [r.durations[step] - fit[r.run] for r in trained if step in r.durations]
        if values:
            label = "train without `model.fit`" if step == "train" else step
            lines.append(f"| {label} | {_median(values):.1f} | {_p90(values):.1f} |")
    lines += ["", *_storage(facts.storage), "", *_rows(facts.rows), "", *_serving(load), ""]
    lines += _checks(verification)
    return "\n".join(lines) + "\n"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _p90(values: list[float]) -> float:
    return float(np.percentile(values, 90)) if values else float("nan")


def _production(workflows: list[str]) -> dict[str, str]:
    with Session(db.engine()) as session:
        held = versions.all_aliases(session)
    return {wf: held[wf].version for wf in workflows if wf in held}


def _reproduction(verification: Verification) -> str:
    rebuilt = verification.reproduction
    if rebuilt is None:
        return f"FAILED ({verification.reproduction_error or 'nothing registered'})"
    return f"of {rebuilt.tag} {'bit for bit' if rebuilt.match else 'DIFFERS'}"


def storage(settings: Settings) -> list[tuple[str, int | None, int | None]]:
    """(what, files, bytes) of the year's stores; None where the store is not local."""
    places = [
        ("DVC cache", str(settings.repo / ".dvc" / "cache")),
        ("DVC remote", settings.dvc_remote),
        ("serving root (exported SavedModels)", str(settings.serving_root)),
        ("git objects of the model repository", str(settings.repo / ".git" / "objects")),
    ]
    sizes: list[tuple[str, int | None, int | None]] = []
    for label, place in places:
        if "://" in place:
            sizes.append((f"{label} ({place})", None, None))
        else:
            sizes.append((label, *folder_size(Path(place))))
    return sizes


@dataclass(frozen=True)
class Facts:
    """What the report states about the platform's stores at the end of the year."""

    production: dict[str, str]
    rows: dict[str, int]
    storage: list[tuple[str, int | None, int | None]]

    @classmethod
    def gather(cls, settings: Settings, workflows: list[str]) -> Facts:
        return cls(_production(workflows), row_counts(), storage(settings))


def _storage(sizes: list[tuple[str, int | None, int | None]]) -> list[str]:
    lines = ["## Storage", "", "| what | files | size |", "|---|---|---|"]
    for label, files, size in sizes:
        if files is None or size is None:
            lines.append(f"| {label} | - | not local |")
        else:
            lines.append(f"| {label} | {files:,} | {_mib(size)} |")
    return lines


def _rows(counts: dict[str, int]) -> list[str]:
    lines = ["## Postgres rows (lineage database)", "", "| table | rows |", "|---|---|"]
    lines += [f"| {table} | {count:,} |" for table, count in counts.items()]
    return lines


def _serving(load: LoadSummary) -> list[str]:
    lines = [
        "## Serving while the year ran",
        "",
        f"{load.requests:,} image uploads to `:classify` of every workflow with a production "
        f"version, pinned to `production`: **{load.failed} failed**; latency p50 "
        f"{load.p50_ms:.0f} ms, p99 {load.p99_ms:.0f} ms, max {load.max_ms:.0f} ms.",
        "",
        "| workflow | versions that answered, in order |",
        "|---|---|",
    ]
    lines += [f"| {wf} | {', '.join(seen)} |" for wf, seen in load.versions_seen.items()]
    if load.failures:
        lines += ["", "First failures:", "", *[f"- {f}" for f in load.failures]]
    return lines


def _checks(verification: Verification) -> list[str]:
    lines = ["## End-of-year checks", ""]
    if verification.disagreements:
        lines.append("GTO and Postgres disagree:")
        lines += [f"- {d}" for d in verification.disagreements]
    else:
        lines.append(
            f"- `gto show` and the git tags agree with Postgres for all "
            f"{verification.workflows_compared} workflows (versions, latest, production and "
            "candidate stages; production exported for serving)."
        )
    for restored in verification.restored:
        verdict = "sha256 matches" if restored.match else f"MISMATCH {restored.error or ''}"
        lines.append(f"- `dvc pull` of {restored.tag} into an empty cache: {verdict}")
    lines.append(f"- reproduction {_reproduction(verification)}")
    rebuilt = verification.reproduction
    if rebuilt is not None and not rebuilt.match:
        lines += [f"  - {d}" for d in rebuilt.differences]
    return lines
