"""Airflow's own phases of each task, read from the task logs of a platform's retrain runs.

    .venv/bin/python bench/task_phases.py HOME [HOME ...]

HOME is a `MODELFLEET_HOME` whose platform ran `retrain__<wf>` runs (for example
`modelfleet simulate-year --only surface_line1 --months 2`). Per task attempt, from the
timestamps of Airflow's own log lines:
- parse: the task process's parse of the DAG file ("Filling up the DagBag" to "Worker
  startup parse complete");
- pre-execute: from then to the end of Airflow's "Pre Execute" group, which holds the
  template rendering, its report to the supervisor and the OpenLineage START event
  (with the provider's default, the wait for the process it forks to send it);
- post-execute: from "Pushing xcom" to the end of the "Post Execute" group: the XCom push,
  the task's end reported to the supervisor (the recorded end), then the OpenLineage
  COMPLETE event.

These are the costs every task pays whatever its step does: on a quiet platform the
median of each over all tasks shows what a change to them saved, where the run-to-run
spread of a whole retrain run (about 10%) would hide it.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

Event = tuple[datetime, str]
PHASES: dict[str, tuple[Callable[[str], bool], Callable[[str], bool]]] = {
    "parse": (
        lambda e: e.startswith("Filling up the DagBag"),
        lambda e: e.startswith("Worker startup parse complete"),
    ),
    "pre-execute": (
        lambda e: e.startswith("Worker startup parse complete"),
        lambda e: e == "::endgroup::",
    ),
    "post-execute": (lambda e: e == "Pushing xcom", lambda e: e == "::endgroup::"),
}


def events(log: Path) -> Iterator[Event]:
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
            yield datetime.fromisoformat(record["timestamp"]), str(record.get("event", ""))
        except (ValueError, KeyError, TypeError):
            continue  # a line of the task's own output


def phase_seconds(log: Path) -> dict[str, float]:
    seen = list(events(log))
    found: dict[str, float] = {}
    for name, (begins, ends) in PHASES.items():
        start = next((t for t, e in seen if begins(e)), None)
        end = next((t for t, e in seen if ends(e) and start is not None and t >= start), None)
        if start is not None and end is not None:
            found[name] = (end - start).total_seconds()
    return found


def main(homes: list[str]) -> None:
    if not homes:
        sys.exit(__doc__)
    print("| home | task attempts | " + " | ".join(f"{p}, median (mean) s" for p in PHASES) + " |")
    print("|---" * (len(PHASES) + 2) + "|")
    for home in homes:
        logs = sorted(
            Path(home, "airflow", "logs").glob("dag_id=retrain__*/run_id=*/task_id=*/*.log")
        )
        if not logs:
            sys.exit(f"{home}: no retrain task logs under airflow/logs")
        per_phase: dict[str, list[float]] = {p: [] for p in PHASES}
        for log in logs:
            for name, seconds in phase_seconds(log).items():
                per_phase[name].append(seconds)
        cells = [
            f"{statistics.median(v):.3f} ({statistics.fmean(v):.3f})" if v else "-"
            for v in per_phase.values()
        ]
        print(f"| {home} | {len(logs)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
