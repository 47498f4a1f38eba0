"""The plugin file as Airflow imports it: no TensorFlow, the app and its views, and no
app built where nothing serves it (every task process loads every plugin: a task process
is checked in tests/unit/orchestration/test_task_preload.py)."""

from __future__ import annotations

import subprocess
import sys

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


def test_the_plugin_imports_no_tensorflow_and_declares_its_views():
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=CHECKOUT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "False [] /models True ['nav', 'dag', 'dag_run']"
