"""The step modules an Airflow task imports: none of them loads TensorFlow, Keras or
Great Expectations (that work runs in DVC-stage subprocesses), and the retrain DAG's
tasks each call one of their functions."""

from __future__ import annotations

import subprocess
import sys

STEP_MODULES = (
    "modelfleet.pipeline.data",
    "modelfleet.pipeline.training",
    "modelfleet.pipeline.release",
    "modelfleet.pipeline.approve",
)
HEAVY = ("tensorflow", "keras", "great_expectations")


def test_step_modules_import_nothing_heavy():
    code = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in STEP_MODULES)
        + f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_every_retrain_task_has_its_step_function():
    from modelfleet.pipeline import data, release, training

    steps = {
        "snapshot": data,
        "validate": data,
        "train": training,
        "evaluate": training,
        "gate": release,
        "register": release,
        "deploy": release,
        "smoke": release,
    }
    assert all(callable(getattr(module, task)) for task, module in steps.items())
