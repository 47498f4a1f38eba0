"""Airflow plugin: the model registry and lineage inside the Airflow UI.

- a FastAPI app at /models (pages) and /models/api/ (JSON), from `modelfleet.ui`;
- **Models** in the navigation;
- a **Model** tab on every DAG (retrain__<wf> opens its workflow's page) and a
  **Model version** tab on every DAG run (the lineage of the version it produced).

Airflow does not authenticate plugin apps; `modelfleet.ui` checks Airflow's token and
roles on every route. No TensorFlow is imported here or by `modelfleet.ui`.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from modelfleet.ui import MOUNT, create_app

# hrefs without a leading slash resolve against the Airflow UI's base URL
_BASE = MOUNT.lstrip("/")


class ModelfleetModels(AirflowPlugin):
    name = "modelfleet_models"
    fastapi_apps = [{"app": create_app(), "url_prefix": MOUNT, "name": "Models"}]  # noqa: RUF012
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
