"""Render the DVC files of the model repository from the fleet config.

`params.yaml` holds each workflow's training spec (what DVC tracks as params);
`dvc.yaml` has foreach stages (each depending on its data, its params and `code.json`,
the digest of the code it runs) and one `artifacts:` entry per workflow for the DVC/GTO
model registry. The checkout keeps rendered copies, and a test keeps them in sync with
workflows.yaml.

In the model repository the stages are declared only for the workflows whose data the
commit holds (`declared`): a stage with outputs but no `dvc.lock` entry makes a plain
`dvc pull` warn and exit 1, and its metrics files make `dvc metrics show` report a load
failure. A workflow with no version yet therefore has no stages on `main` until its
first version is registered; its run's workspace declares them once its data is added.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from modelfleet.config import Fleet
from modelfleet.versioning.code import CODE_FILE

_HEADER = "# Rendered from workflows.yaml by `modelfleet render`; do not edit.\n"


def render_params(fleet: Fleet) -> str:
    params: dict[str, Any] = {"workflows": sorted(fleet.workflows)}
    for name in sorted(fleet.workflows):
        params[name] = fleet.train_spec(name).as_params()
    return _HEADER + yaml.safe_dump(params, sort_keys=False)


def render_dvc_yaml(fleet: Fleet, declared: Iterable[str] | None = None) -> str:
    """dvc.yaml with stages for `declared` workflows (None: every workflow in the fleet,
    `${workflows}` of params.yaml, as the checkout's copy has it)."""
    artifacts = {
        name: {
            "path": f"models/{name}/model.weights.h5",
            "type": "model",
            "desc": f"{name} classifier",
        }
        for name in sorted(fleet.workflows)
    }
    return _dump(_stages(declared), artifacts)


def redeclare(dvc_yaml: str, declared: Iterable[str]) -> str:
    """The same dvc.yaml (its artifacts kept) with stages for `declared` workflows."""
    artifacts = (yaml.safe_load(dvc_yaml) or {}).get("artifacts", {})
    return _dump(_stages(declared), artifacts)


def _dump(stages: dict[str, Any], artifacts: dict[str, Any]) -> str:
    return _HEADER + yaml.safe_dump({"stages": stages, "artifacts": artifacts}, sort_keys=False)


def _stages(declared: Iterable[str] | None) -> dict[str, Any]:
    names = None if declared is None else sorted(set(declared))

    def items() -> str | list[str]:  # a new list per stage: no YAML anchors in the file
        return "${workflows}" if names is None else list(names)

    return {
        "validate": {
            "foreach": items(),
            "do": {
                "cmd": "python -m modelfleet.training.stage validate ${item}",
                "deps": [
                    "data/${item}/train",
                    "data/${item}/holdout",
                    "data/${item}/test",
                    CODE_FILE,
                ],
                "params": ["${item}"],
                # An output, not a metric: it holds the Data Docs URL and the failed
                # checks by name, which `dvc metrics show` would list as metrics.
                "outs": [{"models/${item}/validation.json": {"cache": False}}],
            },
        },
        "train": {
            "foreach": items(),
            "do": {
                "cmd": "python -m modelfleet.training.stage train ${item}",
                "deps": [
                    "data/${item}/train",
                    "data/${item}/holdout",  # scored per epoch: the validation curves
                    "models/${item}/parent",
                    "models/${item}/validation.json",
                    CODE_FILE,
                ],
                "params": ["${item}"],
                "outs": ["models/${item}/model.weights.h5"],
                "metrics": [{"models/${item}/train.json": {"cache": False}}],
                "plots": [
                    {
                        "models/${item}/history.csv": {
                            "cache": False,
                            "x": "epoch",
                        }
                    }
                ],
            },
        },
        "evaluate": {
            "foreach": items(),
            "do": {
                "cmd": "python -m modelfleet.training.stage evaluate ${item}",
                "deps": [
                    "models/${item}/model.weights.h5",
                    "models/${item}/history.csv",
                    "models/${item}/parent",
                    "data/${item}/test",
                    "data/${item}/holdout",
                    CODE_FILE,
                ],
                "params": ["${item}"],
                "metrics": [{"models/${item}/metrics.json": {"cache": False}}],
                "plots": ["models/${item}/confusion.png", "models/${item}/curves.png"],
            },
        },
    }
