"""A minimal user workflow file in a workflows.d folder (no data behind it)."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_user_workflow(folder: Path, name: str = "photos") -> Path:
    """`<folder>/<name>.yaml` declaring a 32x32 LeNet workflow over a folder source."""
    path = folder / f"{name}.yaml"
    entry = {
        "source": {"kind": "folder", "url": "/data/p", "test_fraction": 0.2},
        "classes": ["a", "b"],
        "input_shape": [32, 32, 3],
        "architecture": "lenet",
    }
    path.write_text(yaml.safe_dump({"workflows": {name: entry}}))
    return path
