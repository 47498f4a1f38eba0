"""Airflow plugin: the model registry and lineage inside the Airflow UI.

- a FastAPI app at /models (pages) and /models/api/ (JSON), from `modelfleet.ui`;
- **Models** in the navigation;
- a **Model** tab on every DAG (retrain__<wf> opens its workflow's page) and a
  **Model version** tab on every DAG run (the lineage of the version it produced).

Airflow does not authenticate plugin apps; `modelfleet.ui` checks Airflow's token and
roles on every route. No TensorFlow is imported here or by `modelfleet.ui`.

Every Airflow task process loads every plugin (for macros and listeners) and never
serves a page, so the app is built on first use, in the api-server: importing this
file imports `modelfleet.naming` only. (The task code those processes do need is
imported before they fork, by `modelfleet_preload.py`.)
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from modelfleet.naming import MODELS_UI_MOUNT

# hrefs without a leading slash resolve against the Airflow UI's base URL
_BASE = MODELS_UI_MOUNT.lstrip("/")


class ModelfleetModels(AirflowPlugin):
    name = "modelfleet_models"

    # A property where AirflowPlugin declares a list: Airflow reads it from the instance.
    @cached_property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        from modelfleet.ui import create_app

        return [{"app": create_app(), "url_prefix": MODELS_UI_MOUNT, "name": "Models"}]

    external_views = [  # noqa: RUF012
        {
            "name": "Models",
            "href": f"{_BASE}/",
            "url_route": "models",
            "destination": "nav",
            "nav_top_level": True,
            "icon": f"{_BASE}/static/icon.svg",
        },
        {
            "name": "Model",
            "href": f"{_BASE}/dag/{{DAG_ID}}",
            "url_route": "model",
            "destination": "dag",
        },
        {
            "name": "Model version",
            "href": f"{_BASE}/dag-run/{{DAG_ID}}/{{RUN_ID}}",
            "url_route": "model-version",
            "destination": "dag_run",
        },
    ]
