"""The plugin file as Airflow imports it: no TensorFlow, the app and its views, and no
app built where nothing serves it (every task process loads every plugin)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from modelfleet.settings import CHECKOUT

PROBE = """
import sys
sys.path.insert(0, "plugins")  # Airflow puts the plugins folder on sys.path
import modelfleet_models as m
built_on_import = "modelfleet.ui" in sys.modules
plugin = m.ModelfleetModels()  # Airflow instantiates each plugin class it finds
apps = plugin.fastapi_apps
heavy = sorted({n.split(".")[0] for n in sys.modules} & {"tensorflow", "keras", "great_expectations", "dvc"})
print(built_on_import, heavy, apps[0]["url_prefix"], apps is plugin.fastapi_apps,
      [v["destination"] for v in plugin.external_views])
"""

# What a task process does before running its task: Airflow's SDK loads the plugins
# folder for macros (and listeners), never asking a plugin for its FastAPI apps.
TASK_PROCESS = """
import sys
from airflow.sdk.plugins_manager import _get_plugins, integrate_macros_plugins
integrate_macros_plugins()
print(sorted(p.name for p in _get_plugins()[0] if p.name == "modelfleet_models"),
      "modelfleet.ui" in sys.modules)
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


def test_the_plugin_imports_no_tensorflow_and_declares_its_views():
    out = _python(PROBE)
    assert out == "False [] /models True ['nav', 'dag', 'dag_run']"


def test_a_task_process_loads_the_plugin_without_building_the_ui(tmp_path: Path):
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(CHECKOUT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    assert _python(TASK_PROCESS, env) == "['modelfleet_models'] False"
