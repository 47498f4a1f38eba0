"""Benchmark: warm start from last month's model vs training from scratch, month by month.

For one workflow, trains months 1..N twice with the real training code
(`modelfleet.training.train`): once from scratch, once starting from the previous
month's weights of the warm-started line. Reports test accuracy (frozen test set)
and fit time per month. No Airflow, no Postgres: only the training functions.

    .venv/bin/python bench/warm_start.py [--workflow surface_line1] [--months 6] [--epochs 4]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

import yaml

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workflow", default="surface_line1")
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()

    from modelfleet.config import load_fleet
    from modelfleet.datasets.snapshot import materialise
    from modelfleet.months import add_months
    from modelfleet.naming import PARENT_INFO, PARENT_WEIGHTS, model_file, parent_dir
    from modelfleet.training.evaluate import evaluate_candidate
    from modelfleet.training.train import train

    fleet = load_fleet()
    workflow = fleet.get(args.workflow)
    base = fleet.train_spec(args.workflow)
    params = base.params.model_copy(update={"epochs": args.epochs})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        previous: Path | None = None
        for i in range(args.months):
            month = add_months(workflow.source.start_month, i)
            materialise(workflow, month, repo, repo / "deliveries")
            result = {}
            for mode in ("scratch", "warm"):
                spec = base.model_copy(
                    update={
                        "params": params,
                        "warm_start": "production" if mode == "warm" else "none",
                        "parent": None,
                    }
                )
                folder = repo / parent_dir(spec.name)
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(parents=True)
                info = {"workflow": spec.name, "version": None}
                if mode == "warm" and previous is not None:
                    shutil.copyfile(previous, folder / PARENT_WEIGHTS)
                    info["version"] = f"month {i}"
                (folder / PARENT_INFO).write_text(json.dumps(info))
                (repo / "params.yaml").write_text(yaml.safe_dump({spec.name: spec.as_params()}))
                trained = train(spec, repo)
                metrics = evaluate_candidate(spec, repo)
                result[mode] = (metrics["test"]["accuracy"], trained["fit_seconds"])
                if mode == "warm":
                    previous = repo / f"warm-{i}.weights.h5"
                    shutil.copyfile(repo / model_file(spec.name), previous)
            rows.append((month, result))
            print(month, result, flush=True)
    print(
        f"\n{args.workflow} ({workflow.architecture}), {args.epochs} epochs per month, "
        f"window {params.window_months} months"
    )
    print(
        "| month | scratch: test acc | scratch: fit s | warm start: test acc | warm start: fit s |"
    )
    print("|---|---|---|---|---|")
    for month, result in rows:
        (sa, sf), (wa, wf) = result["scratch"], result["warm"]
        print(f"| {month} | {sa:.3f} | {sf:.1f} | {wa:.3f} | {wf:.1f} |")


if __name__ == "__main__":
    main()
