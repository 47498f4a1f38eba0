"""Benchmark: the platform overhead of a retrain run, warm runner (or OpenLineage) on and
off, in one run.

Each mode is a fresh platform (own `$MODELFLEET_HOME`, embedded PostgreSQL, own ports)
running `modelfleet simulate-year --only <workflows> --months <n>`: the same runs through
Airflow's scheduler, one workflow at a time by default. The overhead per run is all task
time except `model.fit` (the year report's definition), median over the runs that
trained; the modes run one after the other on the same machine, so their ratio is what
to read.

    .venv/bin/python bench/retrain_overhead.py [--only surface_line1] [--months 3]
        [--modes off,on] [--vary warm|openlineage] [--flame DIR]

`--vary openlineage` keeps the warm runner on and turns MODELFLEET_OPENLINEAGE off and on
instead (events to the file transport under each platform's home); modes may repeat to
interleave them (`--modes off,on,on,off`).

`--flame DIR` profiles every step's processes with py-spy (`bench/flame.py`): a table of
where each step's time went, and flame graphs of the three slowest steps in DIR.

The target (issue 10): a median under 15 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flame import Profiler
from flame import report as flame_report

from modelfleet.host.ports import free_port

BIN = Path(sys.executable).parent
ROW = re.compile(r"^\|\s*([^|]+?)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|$")


WALL = re.compile(r"^\|\s*run wall[^|]*\|\s*\d+\s*\|\s*[\d.]+\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|")


def overhead_table(report: str) -> dict[str, tuple[float, float]]:
    """The report's "Platform overhead per run" rows: step -> (median s, p90 s), plus
    `run wall` (first task queued to last done) from its time-per-step table: what a
    task's process does after it reported its end (OpenLineage's COMPLETE event) shows
    only there."""
    section = report.split("## Platform overhead per run", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = ROW.match(line.strip())
        if match:
            rows[match[1]] = (float(match[2]), float(match[3]))
    for line in report.splitlines():
        wall = WALL.match(line.strip())
        if wall:
            rows["run wall"] = (float(wall[1]), float(wall[2]))
    return rows


VARIED = {"warm": "MODELFLEET_WARM_RUNNER", "openlineage": "MODELFLEET_OPENLINEAGE"}


def run_mode(
    mode: str, only: str, months: str, root: Path, vary: str = "warm", flame: Path | None = None
) -> dict[str, tuple[float, float]]:
    home = Path(tempfile.mkdtemp(prefix=f"home-{mode}-", dir=root))
    env = {
        **os.environ,
        "MODELFLEET_HOME": str(home),
        "MODELFLEET_WARM_RUNNER": "on",
        VARIED[vary]: mode,
        "MODELFLEET_AIRFLOW_PORT": str(free_port()),
        "MODELFLEET_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
    }
    env.pop("MODELFLEET_DATABASE_URL", None)  # each mode its own embedded server
    report = home / "report.md"
    command = [
        str(BIN / "modelfleet"),
        "simulate-year",
        "--only",
        only,
        "--months",
        months,
        "--report",
        str(report),
    ]
    began = time.monotonic()
    print(f"[bench] {vary} {mode}: {' '.join(command[1:])}", flush=True)
    profiler = None
    if flame is not None:
        (flame / "raw").mkdir(parents=True, exist_ok=True)
        profiler = Profiler(home, flame / "raw")
        profiler.start()
    try:
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    finally:
        subprocess.run([str(BIN / "modelfleet"), "stop"], env=env, stdout=subprocess.DEVNULL)
    if profiler is not None and flame is not None:
        print(flame_report(profiler.stop(), flame), flush=True)
    print(f"[bench] {vary} {mode}: {time.monotonic() - began:.0f} s", flush=True)
    table = overhead_table(report.read_text())
    print(f"[bench] {vary} {mode}: total median {table['total'][0]:.1f} s", flush=True)
    return table


def averaged(tables: list[dict[str, tuple[float, float]]]) -> dict[str, tuple[float, float]]:
    """Each step's (median, p90), averaged over the runs that have it."""
    steps = dict.fromkeys(step for table in tables for step in table)
    result = {}
    for step in steps:
        values = [table[step] for table in tables if step in table]
        result[step] = (
            sum(v[0] for v in values) / len(values),
            sum(v[1] for v in values) / len(values),
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="surface_line1")
    parser.add_argument("--months", default="3")
    parser.add_argument("--modes", default="off,on")
    parser.add_argument("--vary", choices=sorted(VARIED), default="warm")
    parser.add_argument("--flame", type=Path, help="profile with py-spy; flame graphs here")
    args = parser.parse_args()
    runs = [m.strip() for m in args.modes.split(",") if m.strip()]
    with tempfile.TemporaryDirectory(prefix="mf-overhead-") as tmp:
        done = [
            (m, run_mode(m, args.only, args.months, Path(tmp), args.vary, args.flame)) for m in runs
        ]
    # A mode run more than once (interleaved): each step's median and p90 averaged.
    modes = list(dict.fromkeys(runs))
    tables = {m: averaged([t for n, t in done if n == m]) for m in modes}
    steps = list(next(iter(tables.values())))
    label = "warm runner" if args.vary == "warm" else "OpenLineage"
    header = " | ".join(f"{label} {m}: median s (p90)" for m in modes)
    print(f"\n| step | {header} |")
    print("|---|" + "---|" * len(modes))
    for step in steps:
        cells = " | ".join(
            f"{tables[m][step][0]:.1f} ({tables[m][step][1]:.1f})" if step in tables[m] else "-"
            for m in modes
        )
        print(f"| {step} | {cells} |")
    if {"off", "on"} <= tables.keys():
        off, on = tables["off"]["total"][0], tables["on"]["total"][0]
        print(
            f"\noverhead per run, median: {on:.1f} s {label} on vs {off:.1f} s off ({on / off:.0%})"
        )


if __name__ == "__main__":
    main()
