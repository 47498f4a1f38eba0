"""Benchmark: the CPU an idle platform's DAG processor uses, per source tree, in one run.

Each tree gets a fresh platform (`modelfleet up` with its code: own `$MODELFLEET_HOME`,
embedded PostgreSQL, own ports), left alone for `--settle` seconds (the first parses),
then the CPU time of the dag-processor (its parsing children included) and of
`fleet-watch`, where the tree has one, is read over `--seconds`. Compare trees measured
in the same run: this machine is noisy.

    .venv/bin/python bench/dag_processor_idle.py [--trees /tmp/base,.] [--seconds 180]

The target (issue 25): below 5% of a core while idle.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from modelfleet.host.ports import free_port
from modelfleet.host.processes import ProcessManager

BIN = Path(sys.executable).parent
PROCESSES = ("airflow-dag-processor", "fleet-watch")


def cpu_seconds(pid: int) -> float:
    """User + system time of `pid` and of the children it has reaped."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def measure(tree: Path, root: Path, settle_s: float, seconds: float) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="home-", dir=root))
    env = {
        **os.environ,
        "PYTHONPATH": str(tree / "src"),
        "MODELFLEET_HOME": str(home),
        "MODELFLEET_AIRFLOW_PORT": str(free_port()),
        "MODELFLEET_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
    }
    env.pop("MODELFLEET_DATABASE_URL", None)  # each tree its own embedded server
    print(f"[bench] {tree}: modelfleet up", flush=True)
    try:
        subprocess.run(
            [str(BIN / "modelfleet"), "up"],
            env=env,
            cwd=tree,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        time.sleep(settle_s)
        running = [ProcessManager(home / "run").info(name) for name in PROCESSES]
        pids = {info.name: info.pid for info in running if info.running and info.pid}
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        time.sleep(seconds)
        after = {name: cpu_seconds(pid) for name, pid in pids.items()}
    finally:
        subprocess.run([str(BIN / "modelfleet"), "stop"], env=env, stdout=subprocess.DEVNULL)
    share = {name: (after[name] - before[name]) / seconds for name in pids}
    print(f"[bench] {tree}: " + ", ".join(f"{n} {s:.1%}" for n, s in share.items()), flush=True)
    return share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trees", default=".", help="checkouts to compare, comma-separated")
    parser.add_argument("--settle", type=float, default=90.0)
    parser.add_argument("--seconds", type=float, default=180.0)
    args = parser.parse_args()
    trees = [Path(t).resolve() for t in args.trees.split(",") if t]
    with tempfile.TemporaryDirectory(prefix="mf-idle-") as tmp:
        # a tree named twice (interleaved, A B A B) is measured twice: one row each
        results = [(t, measure(t, Path(tmp), args.settle, args.seconds)) for t in trees]
    print(f"\n| tree (in order) | {' | '.join(PROCESSES)} | together |")
    print("|---|" + "---|" * (len(PROCESSES) + 1))
    for tree, share in results:
        cells = " | ".join(f"{share[n]:.1%}" if n in share else "-" for n in PROCESSES)
        print(f"| {tree} | {cells} | {sum(share.values()):.1%} of a core |")


if __name__ == "__main__":
    main()
