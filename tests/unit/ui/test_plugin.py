"""The plugin file as Airflow imports it: no TensorFlow, the app and its views."""

from __future__ import annotations

import subprocess
import sys

from modelfleet.settings import CHECKOUT

PROBE = """
import sys
sys.path.insert(0, "plugins")  # Airflow puts the plugins folder on sys.path
import modelfleet_models as m
heavy = sorted({n.split(".")[0] for n in sys.modules} & {"tensorflow", "keras", "great_expectations", "dvc"})
plugin = m.ModelfleetModels
print(heavy, plugin.fastapi_apps[0]["url_prefix"], [v["destination"] for v in plugin.external_views])
"""


def test_the_plugin_imports_no_tensorflow_and_declares_its_views():
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=CHECKOUT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[] /models ['nav', 'dag', 'dag_run']"
