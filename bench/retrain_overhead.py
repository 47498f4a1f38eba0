"""Benchmark: the platform overhead of a retrain run, warm runner on and off, in one run.

Each mode is a fresh platform (own `$MODELFLEET_HOME`, embedded PostgreSQL, own ports)
running `modelfleet simulate-year --only <workflows> --months <n>`: the same runs through
Airflow's scheduler, one workflow at a time by default. The overhead per run is all task
time except `model.fit` (the year report's definition), median over the runs that
trained; the modes run one after the other on the same machine, so their ratio is what
to read.

    .venv/bin/python bench/retrain_overhead.py [--only surface_line1] [--months 3]
        [--modes off,on]

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

from modelfleet.host.ports import free_port

BIN = Path(sys.executable).parent
ROW = re.compile(r"^\|\s*([^|]+?)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|$")


def overhead_table(report: str) -> dict[str, tuple[float, float]]:
    """The report's "Platform overhead per run" rows: step -> (median s, p90 s)."""
    section = report.split("## Platform overhead per run", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = ROW.match(line.strip())
        if match:
            rows[match[1]] = (float(match[2]), float(match[3]))
    return rows


def run_mode(mode: str, only: str, months: str, root: Path) -> dict[str, tuple[float, float]]:
    home = root / f"home-{mode}"
    env = {
        **os.environ,
        "MODELFLEET_HOME": str(home),
        "MODELFLEET_WARM_RUNNER": mode,
        "MODELFLEET_AIRFLOW_PORT": str(free_port()),
        "MODELFLEET_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
    }
    env.pop("MODELFLEET_DATABASE_URL", None)  # each mode its own embedded server
    report = root / f"report-{mode}.md"
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
    print(f"[bench] warm runner {mode}: {' '.join(command[1:])}", flush=True)
    try:
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    finally:
        subprocess.run([str(BIN / "modelfleet"), "stop"], env=env, stdout=subprocess.DEVNULL)
    print(f"[bench] warm runner {mode}: {time.monotonic() - began:.0f} s", flush=True)
    return overhead_table(report.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="surface_line1")
    parser.add_argument("--months", default="3")
    parser.add_argument("--modes", default="off,on")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    with tempfile.TemporaryDirectory(prefix="mf-overhead-") as tmp:
        tables = {mode: run_mode(mode, args.only, args.months, Path(tmp)) for mode in modes}
    steps = list(next(iter(tables.values())))
    header = " | ".join(f"warm runner {m}: median s (p90)" for m in modes)
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
        print(f"\noverhead per run, median: {on:.1f} s warm vs {off:.1f} s cold ({on / off:.0%})")


if __name__ == "__main__":
    main()
