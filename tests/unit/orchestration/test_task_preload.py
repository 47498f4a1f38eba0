"""The task code that Airflow's scheduler imports before it forks task processes: all
that the tasks import, and nothing a forked process must not inherit."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from modelfleet.settings import CHECKOUT

# The modules whose task callables import platform code when they run.
TASK_SOURCES = ("dag_factory", "monitor_dag", "approval", "shadow_step", "months_with_data")

PRELOAD = """
import json, sys, threading
from modelfleet.orchestration.task_preload import preload
from modelfleet.registry import db
preload()
print(json.dumps({
    "modules": sorted(name for name in sys.modules if name.startswith("modelfleet")),
    "heavy": sorted({n.split(".")[0] for n in sys.modules}
                    & {"tensorflow", "keras", "great_expectations", "dvc", "gto"}),
    "threads": threading.active_count(),
    "engines": db._engine.cache_info().currsize,
}))
"""

# What a task process does before its task runs: Airflow's SDK loads the plugins folder.
TASK_PROCESS = """
import sys
from airflow.sdk.plugins_manager import _get_plugins, integrate_macros_plugins
integrate_macros_plugins()
names = sorted(p.name for p in _get_plugins()[0] if p.name.startswith("modelfleet"))
print(names, "modelfleet.pipeline.training" in sys.modules, "modelfleet.ui" in sys.modules)
"""


def _python(code: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=CHECKOUT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _lazy_imports(module: str) -> set[str]:
    """`modelfleet.*` modules imported inside functions of orchestration/<module>.py."""
    tree = ast.parse((CHECKOUT / f"src/modelfleet/orchestration/{module}.py").read_text())
    found = set()
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("modelfleet"):
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    path = CHECKOUT / "src" / submodule.replace(".", "/")
                    is_module = path.with_suffix(".py").exists() or path.is_dir()
                    found.add(submodule if is_module else str(node.module))
    return found


def _dag_file_imports() -> set[str]:
    """What the DAG file, which each task process parses, imports from the platform."""
    tree = ast.parse((CHECKOUT / "dags/retrain.py").read_text())
    return {
        str(node.module)
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("modelfleet")
    }


def test_preload_imports_every_module_a_task_imports_and_nothing_heavy():
    out = json.loads(_python(PRELOAD))  # a fresh interpreter, as the scheduler is
    lazy = set().union(*(_lazy_imports(module) for module in TASK_SOURCES))
    lazy |= _dag_file_imports()
    assert "modelfleet.orchestration.dag_factory" in lazy
    assert "modelfleet.pipeline.release" in lazy  # the parse finds the steps' imports
    assert sorted(lazy - set(out["modules"])) == []
    assert out["heavy"] == []
    assert out["threads"] == 1  # nothing a forked process would inherit half-alive
    assert out["engines"] == 0


def test_a_task_process_starts_with_the_task_code_and_without_the_ui(tmp_path: Path):
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(CHECKOUT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    out = _python(TASK_PROCESS, env)
    assert out == "['modelfleet_models', 'modelfleet_preload'] True False"
