"""Benchmark: `modelfleet workflow add` on a folder of about 1,000 photos, and from
`workflow add` to a served production version of a folder of two months of about 250
photos each, on a real platform (`modelfleet up` in a fresh home, embedded PostgreSQL,
the checkout's workflows.yaml: the shipped fleet's DAGs parse beside the new one).

The folders are crops of the photos that ship with scikit-learn, in the layout of
docs/your-own-images.md (`tests/helpers/user_folder.py`), local on disk.

- `add`: the wall time of the `workflow add` process (inspecting every image, the
  proposal, the file, the repository commit, the grants) on ~1,000 images.
- `served`, per run: a new workflow (named architecture, `--architecture lenet`), then
  `modelfleet retrain NAME --month 2026-02 --wait` (its training window holds both
  months), then `:classify` until the endpoint answers with the released version. With
  `--each-month` it retrains 2026-01 and then 2026-02, and waits for the second version.
  Reported: the median of the runs, and each run's steps.

    .venv/bin/python bench/workflow_add.py [--runs 3] [--per-class 125] [--each-month]

Targets (issue 20): `add` under 30 s on 1,000 images; `served` under 3 minutes (median
of 3 runs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from modelfleet.host.ports import free_port

BIN = Path(sys.executable).parent
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers.user_folder import held_back_photo, write_user_folder  # noqa: E402


@dataclass
class Run:
    name: str
    images: int
    steps: dict[str, float] = field(default_factory=dict)  # step -> seconds since the add

    @property
    def total(self) -> float:
        return self.steps["served"]


def modelfleet(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(BIN / "modelfleet"), *args], env=env, capture_output=True, text=True, timeout=1800
    )
    if done.returncode != 0:
        raise SystemExit(f"modelfleet {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def bench_add(env: dict[str, str], root: Path, per_class: int) -> tuple[int, float]:
    folder = write_user_folder(root / "big", per_class=per_class, seed=100)
    images = len(folder.files())
    began = time.monotonic()
    modelfleet(env, "workflow", "add", "big", "--from", str(folder.root), "--architecture", "lenet")
    return images, time.monotonic() - began


def bench_served(
    env: dict[str, str], root: Path, index: int, per_class: int, each_month: bool
) -> Run:
    name = f"line{index}"
    folder = write_user_folder(root / name, per_class=per_class, seed=index)
    run = Run(name, len(folder.files()))
    key = (Path(env["MODELFLEET_HOME"]) / "secrets" / "modelfleet-admin.key").read_text().strip()
    began = time.monotonic()
    modelfleet(env, "workflow", "add", name, "--from", str(folder.root), "--architecture", "lenet")
    run.steps["added"] = time.monotonic() - began
    version = ""
    for month in ("2026-01", "2026-02") if each_month else ("2026-02",):
        done = modelfleet(env, "retrain", name, "--month", month, "--wait", "--timeout", "20")
        line = next(x for x in done.stdout.splitlines() if x.startswith("released "))
        version = line.split()[1].split("@")[1]
        run.steps[f"released {month}"] = time.monotonic() - began
    while True:  # the endpoint answers with the released version
        answer = httpx.post(
            f"{env['MODELFLEET_ENDPOINT_URL']}/v1/models/{name}:classify",
            files={"file": ("p.jpg", held_back_photo("china"))},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        if answer.status_code == 200 and answer.headers.get("X-Model-Version") == version:
            break
        time.sleep(0.2)
    run.steps["served"] = time.monotonic() - began
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--per-class", type=int, default=125, help="per month (2 classes)")
    parser.add_argument("--big-per-class", type=int, default=245, help="the ~1,000 folder")
    parser.add_argument("--each-month", action="store_true", help="retrain both months")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-workflow-add-"))
    env = {
        **os.environ,
        "MODELFLEET_HOME": str(root / "home"),
        "MODELFLEET_AIRFLOW_PORT": str(free_port()),
        "MODELFLEET_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
    }
    env.pop("MODELFLEET_DATABASE_URL", None)  # its own embedded server
    print(f"[bench] modelfleet up in {root / 'home'}", flush=True)
    modelfleet(env, "up")
    try:
        images, seconds = bench_add(env, root, args.big_per_class)
        print(f"[bench] workflow add on {images} images: {seconds:.1f} s", flush=True)
        runs = []
        for index in range(1, args.runs + 1):
            run = bench_served(env, root, index, args.per_class, args.each_month)
            steps = ", ".join(f"{step} {s:.0f} s" for step, s in run.steps.items())
            print(f"[bench] {run.name} ({run.images} images): {steps}", flush=True)
            runs.append(run)
        median = statistics.median(r.total for r in runs)
        print(f"[bench] workflow add -> served: median {median:.0f} s of {len(runs)} runs")
    finally:
        subprocess.run([str(BIN / "modelfleet"), "stop"], env=env, capture_output=True)


if __name__ == "__main__":
    main()
