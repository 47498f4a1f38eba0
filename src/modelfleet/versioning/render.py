"""Render the DVC files of the model repository from the fleet config.

`params.yaml` holds each workflow's training spec (what DVC tracks as params);
`dvc.yaml` has foreach stages over the workflow list (each depending on its data,
its params and `code.json`, the digest of the code it runs) and one `artifacts:`
entry per workflow for the DVC/GTO model registry. The checkout keeps rendered copies,
and a test keeps them in sync with workflows.yaml.
"""

from __future__ import annotations

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


def render_dvc_yaml(fleet: Fleet) -> str:
    stages = {
        "validate": {
            "foreach": "${workflows}",
            "do": {
                "cmd": "python -m modelfleet.training.stage validate ${item}",
                "deps": [
                    "data/${item}/train",
                    "data/${item}/holdout",
                    "data/${item}/test",
                    CODE_FILE,
                ],
                "params": ["${item}"],
                "metrics": [{"models/${item}/validation.json": {"cache": False}}],
            },
        },
        "train": {
            "foreach": "${workflows}",
            "do": {
                "cmd": "python -m modelfleet.training.stage train ${item}",
                "deps": [
                    "data/${item}/train",
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
            "foreach": "${workflows}",
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
    artifacts = {
        name: {
            "path": f"models/{name}/model.weights.h5",
            "type": "model",
            "desc": f"{name} classifier",
        }
        for name in sorted(fleet.workflows)
    }
    return _HEADER + yaml.safe_dump({"stages": stages, "artifacts": artifacts}, sort_keys=False)
