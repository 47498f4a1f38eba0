"""`make celery-check`: the CeleryExecutor profile, end to end.

In a MODELFLEET_HOME of its own (default `var/celery-check`, wiped first) with its own
embedded PostgreSQL (so its own `airflow` and lineage databases) and its own Redis
database, bring the platform up with `MODELFLEET_EXECUTOR=celery`, trigger one
`retrain__digits` run over the REST API, and show that every task ran in the separate
`airflow celery worker` process:

- Airflow's task instances (REST API: state, hostname, queue, executor, pid) and the
  Celery task id the scheduler gave each one (`external_executor_id`, metadata DB);
- Celery's result backend (`celery_taskmeta`) holds that id with state SUCCESS;
- the worker's log holds `execute_workload[<id>] ... succeeded` for that id;
- while a task runs, its process descends from the worker's pid (read from /proc),
  and not from the scheduler's (where LocalExecutor would have forked it).

Then everything is stopped. `main()` also writes the output into
docs/celery-profile.md between markers.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from modelfleet.errors import PlatformError
from modelfleet.host.environment import environment
from modelfleet.host.ports import free_port
from modelfleet.naming import retrain_dag_id
from modelfleet.settings import (
    AIRFLOW_PORT_ENV,
    CELERY_BROKER_URL_ENV,
    CHECKOUT,
    CONFIG_ENV,
    DATABASE_URL_ENV,
    ENDPOINT_URL_ENV,
    EXECUTOR_ENV,
    GRPC_PORT_ENV,
    HOME_ENV,
    Settings,
    get_settings,
)

WORKFLOW = "digits"
MONTH = "2026-02"
# Not the default platform's DB 0: two platforms on one Redis DB would take each other's
# task messages (the queue is the key `default`).
BROKER_URL = "redis://127.0.0.1:6379/15"
DOC = CHECKOUT / "docs" / "celery-profile.md"
BEGIN, END = "<!-- celery-check:begin -->", "<!-- celery-check:end -->"


@dataclass
class TaskEvidence:
    task_id: str
    state: str | None = None
    hostname: str | None = None
    queue: str | None = None
    executor: str | None = None
    pid: int | None = None
    celery_id: str | None = None
    celery_state: str | None = None
    worker_log: bool = False
    # Seen running: its process chain up to the worker (None: it ended between two looks).
    chain: list[str] | None = None
    under_worker: bool | None = None
    under_scheduler: bool | None = None


@dataclass
class CheckResult:
    run_id: str
    run_state: str
    worker_pid: int
    scheduler_pid: int
    worker_node: str
    executor_line: str
    elapsed_s: float
    tasks: list[TaskEvidence] = field(default_factory=list)
    # The scheduler's child processes while a task ran (LocalExecutor's workers would be here).
    scheduler_children: list[str] = field(default_factory=list)

    def failures(self) -> list[str]:
        """Why the run does not prove the profile (empty: it does)."""
        out = [] if self.run_state == "success" else [f"run {self.run_id} ended {self.run_state}"]
        ran = [t for t in self.tasks if t.state in ("success", "failed")]
        if not ran:
            out.append("no task ran")
        for t in ran:
            if not t.celery_id:
                out.append(f"{t.task_id}: no Celery task id")
            if t.celery_state != "SUCCESS" and t.state == "success":
                out.append(f"{t.task_id}: Celery result backend says {t.celery_state}")
            if not t.worker_log:
                out.append(f"{t.task_id}: not in the worker's log")
            if t.under_worker is False or t.under_scheduler:
                out.append(f"{t.task_id}: its process did not descend from the worker")
        if not any(t.under_worker for t in ran):
            out.append("no task was seen running under the worker process")
        if any("LocalExecutor" in child for child in self.scheduler_children):
            out.append("the scheduler has LocalExecutor workers")
        return out


def run_check(
    home: Path,
    broker_url: str = BROKER_URL,
    month: str = MONTH,
    config: Path | None = None,
    timeout_s: float = 900,
    say_line: Callable[[str], None] = print,
) -> CheckResult:
    """Bring a fresh celery-profile platform up in `home`, run one retrain, stop it."""
    import redis

    try:
        redis.Redis.from_url(broker_url, socket_timeout=5).ping()
    except redis.RedisError as exc:
        raise PlatformError(f"no Redis at {broker_url}: {exc}") from None
    env: dict[str, str | None] = {
        HOME_ENV: str(home),
        EXECUTOR_ENV: "celery",
        CELERY_BROKER_URL_ENV: broker_url,
        CONFIG_ENV: str(config or CHECKOUT / "workflows.yaml"),
        # Free ports, so a platform already running on this machine is left alone.
        AIRFLOW_PORT_ENV: str(free_port()),
        ENDPOINT_URL_ENV: f"http://127.0.0.1:{free_port()}",
        GRPC_PORT_ENV: str(free_port()),  # the endpoint's gRPC (8500 by default) too
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        # The embedded server under `home`: its own `airflow` database too.
        DATABASE_URL_ENV: None,
    }
    with environment(env):
        from modelfleet.platform.up import stop

        settings = get_settings()
        if home.exists():
            stop(settings)  # what an interrupted check left running
            shutil.rmtree(home)
        try:
            return _run(settings, month, timeout_s, say_line)
        finally:
            stop(settings)


def _run(
    settings: Settings, month: str, timeout_s: float, say_line: Callable[[str], None]
) -> CheckResult:
    from modelfleet.host.processes import ProcessManager
    from modelfleet.orchestration.airflow_client import TERMINAL, AirflowClient
    from modelfleet.orchestration.airflow_env import ADMIN_USER, admin_password
    from modelfleet.platform.up import CELERY_WORKER, up

    started = time.monotonic()
    env = up(settings)
    manager = ProcessManager(settings.run_dir)
    worker_pid = manager.info(CELERY_WORKER).pid
    scheduler_pid = manager.info("airflow-scheduler").pid
    assert worker_pid is not None and scheduler_pid is not None
    client = AirflowClient(settings.airflow_url, ADMIN_USER, admin_password(settings))
    dag_id = retrain_dag_id(WORKFLOW)
    client.wait_for_dag(dag_id)
    client.set_paused(dag_id, False)
    run_id = f"celery_check__{month}__{datetime.now(UTC):%Y%m%dT%H%M%S}"
    say_line(f"triggering {dag_id} for {month} over the REST API ({run_id})")
    client.trigger(dag_id, run_id, {"month": month})

    tasks: dict[str, TaskEvidence] = {}
    # LocalExecutor runs tasks in `airflow worker -- LocalExecutor` children of the scheduler.
    scheduler_children: list[str] | None = None
    deadline = time.monotonic() + timeout_s
    state = "queued"
    while time.monotonic() < deadline:
        for ti in client.task_instances(dag_id, run_id):
            evidence = tasks.setdefault(ti["task_id"], TaskEvidence(ti["task_id"]))
            if ti["state"] != evidence.state and ti["state"] is not None:
                say_line(f"    {ti['task_id']} {ti['state']}")
            evidence.state = ti["state"]
            if ti["state"] == "running" and ti["pid"] and evidence.chain is None:
                _look_at_process(evidence, ti["pid"], worker_pid, scheduler_pid)
                if evidence.chain is not None and scheduler_children is None:
                    scheduler_children = _children(scheduler_pid)
        state = client.run_state(dag_id, run_id)
        if state in TERMINAL:
            break
        time.sleep(0.5)
    else:
        raise PlatformError(f"{run_id} did not finish within {timeout_s:.0f}s")

    for ti in client.task_instances(dag_id, run_id):
        evidence = tasks.setdefault(ti["task_id"], TaskEvidence(ti["task_id"]))
        evidence.state = ti["state"]
        evidence.hostname = ti["hostname"]
        evidence.queue = ti["queue"]
        evidence.executor = ti["executor"]
        evidence.pid = ti["pid"]
    # Airflow may show the last task done a moment before Celery records its message done.
    settle = time.monotonic() + 60
    while True:
        _celery_records(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], dag_id, run_id, tasks)
        worker_log = manager.log(CELERY_WORKER).read_text(errors="replace")
        for evidence in tasks.values():
            evidence.worker_log = bool(
                evidence.celery_id
                and re.search(
                    rf"execute_workload\[{re.escape(evidence.celery_id)}\] succeeded", worker_log
                )
            )
        pending = [t for t in tasks.values() if t.celery_id and t.celery_state == "STARTED"]
        if not pending or time.monotonic() > settle:
            break
        time.sleep(1)
    node = re.search(r"(modelfleet@\S+) v\d", worker_log)
    scheduler_log = manager.log("airflow-scheduler").read_text(errors="replace")
    executor_line = next(
        (line.strip() for line in scheduler_log.splitlines() if "CeleryExecutor" in line), ""
    )
    return CheckResult(
        run_id=run_id,
        run_state=state,
        worker_pid=worker_pid,
        scheduler_pid=scheduler_pid,
        worker_node=node.group(1) if node else "?",
        executor_line=executor_line[:160],
        elapsed_s=time.monotonic() - started,
        tasks=list(tasks.values()),
        scheduler_children=scheduler_children or [],
    )


def _look_at_process(evidence: TaskEvidence, pid: int, worker: int, scheduler: int) -> None:
    """Walk /proc from the task's process up to init, noting whose child it is."""
    chain: list[str] = []
    pids: list[int] = []
    current = pid
    while current > 1 and len(pids) < 12:
        try:
            status = Path(f"/proc/{current}/status").read_text()
            cmdline = Path(f"/proc/{current}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            break
        pids.append(current)
        chain.append(f"{current} {cmdline.decode(errors='replace').strip()[:90]}")
        match = re.search(r"^PPid:\s+(\d+)", status, re.M)
        current = int(match.group(1)) if match else 0
    if not pids:
        return  # it ended before we looked
    evidence.under_worker = worker in pids
    evidence.under_scheduler = scheduler in pids
    # up to the worker (or the whole chain, if the worker is not in it)
    evidence.chain = chain[: pids.index(worker) + 1] if worker in pids else chain


def _children(pid: int) -> list[str]:
    """`pid command` of each child process of `pid`."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # the command name may hold spaces and parentheses; the ppid follows the last ')'
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) != pid:
                continue
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, IndexError, ValueError):
            continue
        out.append(f"{stat.parent.name} {cmdline.decode(errors='replace').strip()[:70]}")
    return sorted(out)


def _celery_records(
    airflow_db: str, dag_id: str, run_id: str, tasks: dict[str, TaskEvidence]
) -> None:
    """Each task instance's Celery task id, and that id's state in the result backend."""
    engine = sa.create_engine(airflow_db)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT task_id, external_executor_id FROM task_instance "
                    "WHERE dag_id = :d AND run_id = :r"
                ),
                {"d": dag_id, "r": run_id},
            ).all()
            for task_id, celery_id in rows:
                tasks[task_id].celery_id = celery_id
            ids = [t.celery_id for t in tasks.values() if t.celery_id]
            states: dict[str | None, str] = dict(
                conn.execute(
                    sa.text(
                        "SELECT task_id, status FROM celery_taskmeta WHERE task_id = ANY(:ids)"
                    ),
                    {"ids": ids},
                ).all()
            )
    finally:
        engine.dispose()
    for evidence in tasks.values():
        evidence.celery_state = states.get(evidence.celery_id)


def report(result: CheckResult) -> list[str]:
    """The evidence as text lines."""
    lines = [
        f"run {result.run_id}: {result.run_state} "
        f"({result.elapsed_s / 60:.1f} min from `up` to the run's end)",
        f"celery worker: pid {result.worker_pid}, node {result.worker_node}; "
        f"scheduler pid {result.scheduler_pid}",
        f"scheduler log: {result.executor_line or '(no line names CeleryExecutor)'}",
        "scheduler's child processes while a task ran: "
        + ("; ".join(result.scheduler_children) or "none"),
        "",
        f"{'task':9} {'state':8} {'hostname':14} {'queue':8} {'executor':9} {'pid':>7} "
        f"{'celery task id':37} {'backend':8} {'worker log':10} {'seen under worker'}",
    ]
    for t in result.tasks:
        seen = {None: "(too short)", True: "yes", False: "NO"}[t.under_worker]
        lines.append(
            f"{t.task_id:9} {t.state or '-':8} {t.hostname or '-':14} {t.queue or '-':8} "
            f"{t.executor or '-':9} {t.pid or '-':>7} {t.celery_id or '-':37} "
            f"{t.celery_state or '-':8} {'succeeded' if t.worker_log else '-':10} {seen}"
        )
    longest = max(
        (t for t in result.tasks if t.chain), key=lambda t: len(t.chain or []), default=None
    )
    if longest is not None and longest.chain:
        lines += [
            "",
            f"process chain of `{longest.task_id}` while it ran, up to the worker (pid command):",
        ]
        lines += [
            f"  {'  ' * i}{'└ ' if i else ''}{entry}" for i, entry in enumerate(longest.chain)
        ]
    failures = result.failures()
    lines += ["", "PROVED: every task ran on the Celery worker" if not failures else "NOT PROVED:"]
    lines += [f"  - {f}" for f in failures]
    return lines


def write_doc(command: str, lines: list[str]) -> None:
    """Replace the recorded run in docs/celery-profile.md (the rest of the file stays)."""
    block = "\n".join(
        [
            BEGIN,
            f"`{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores:",
            "",
            "```",
            *lines,
            "```",
            END,
        ]
    )
    text = DOC.read_text() if DOC.exists() else "# The CeleryExecutor profile\n\n" + BEGIN + END
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOC.write_text(head + block + tail + ("" if tail.endswith("\n") else "\n"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=str(CHECKOUT / "var" / "celery-check"))
    parser.add_argument("--broker-url", default=BROKER_URL)
    parser.add_argument("--month", default=MONTH)
    parser.add_argument("--no-record", action="store_true", help="do not update the doc")
    args = parser.parse_args()
    result = run_check(Path(args.home).resolve(), args.broker_url, args.month)
    lines = report(result)
    print("\n".join(lines), flush=True)
    if not args.no_record:
        write_doc("make celery-check", lines)
        print(f"recorded in {DOC.relative_to(CHECKOUT)}")
    if result.failures():
        raise SystemExit(1)


if __name__ == "__main__":
    main()
