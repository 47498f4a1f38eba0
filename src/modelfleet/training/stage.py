"""Entry point of the DVC stages: `python -m modelfleet.training.stage <step> <workflow>`.

Runs inside the model repository (DVC's working directory) and reads the
workflow's section of `params.yaml`, so a checkout of any tag reproduces it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from modelfleet.errors import ModelfleetError
from modelfleet.host import quiet

if TYPE_CHECKING:
    from modelfleet.config import TrainSpec


def read_spec(repo: Path, workflow: str) -> TrainSpec:
    import yaml

    from modelfleet.config import TrainSpec

    params = yaml.safe_load((repo / "params.yaml").read_text())
    if workflow not in params:
        raise ModelfleetError(f"params.yaml has no section for workflow {workflow!r}")
    return TrainSpec.from_params(workflow, params[workflow])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelfleet.training.stage")
    parser.add_argument("step", choices=["validate", "train", "evaluate", "score", "export"])
    parser.add_argument("workflow")
    parser.add_argument("--repo", type=Path, default=Path.cwd())
    parser.add_argument("--model", type=Path, help="score: a SavedModel directory")
    parser.add_argument("--version", help="export: the semver, e.g. v1.2.0")
    parser.add_argument("--serving-root", type=Path, help="export: TF Serving model base")
    parser.add_argument("--staged", type=Path, help="export: here, before its version is known")
    args = parser.parse_args(argv)
    quiet.install()  # a DVC stage's output is the task log (modelfleet.host.quiet)
    try:
        spec = read_spec(args.repo, args.workflow)
        if args.step == "validate":
            from modelfleet.validation.stage import run_validation

            outcome = run_validation(spec, args.repo)
            failed = sorted(outcome.failed_checks())
            print(json.dumps({"success": outcome.success, "failed": failed}))
            return 0 if outcome.success else 1
        if args.step == "train":
            from modelfleet.training.train import train

            result = train(spec, args.repo)
        elif args.step == "evaluate":
            from modelfleet.training.evaluate import evaluate_candidate

            result = evaluate_candidate(spec, args.repo)
        elif args.step == "score":
            from modelfleet.training.evaluate import score_saved_model

            result = score_saved_model(spec, args.repo, args.model)
        elif args.staged is not None:
            from modelfleet.training.export import export_staged

            result = {"path": str(export_staged(spec, args.repo, args.staged))}
        else:
            from modelfleet.training.export import export

            result = {"path": str(export(spec, args.repo, args.version, args.serving_root))}
    except ModelfleetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # The last stdout line is the machine-readable result for the caller.
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    # Under the platform the warm runner runs it (same code, TensorFlow already imported);
    # otherwise, e.g. a `dvc repro` by hand, it runs here.
    from modelfleet.host.warm_client import delegate_stage

    code = delegate_stage(sys.argv[1:])
    sys.exit(main() if code is None else code)
