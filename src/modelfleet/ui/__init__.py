"""The model registry and lineage inside the Airflow UI.

`plugins/modelfleet_models.py` mounts `create_app()` in Airflow's api-server at
`/models` and adds a **Models** entry to the navigation, a tab on every DAG and on
every DAG run. Pages are server-rendered (Jinja2, inline SVG); the JSON API lives
under `/models/api/`. Every route authenticates with Airflow's own token and asks
Airflow's auth manager for permission (`access.py`).

Nothing here imports TensorFlow: the api-server must stay light.
"""

from __future__ import annotations

from modelfleet.ui.app import create_app

__all__ = ["create_app"]
