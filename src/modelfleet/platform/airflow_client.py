"""A small client for Airflow's REST API v2 (token auth)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from modelfleet.errors import PlatformError

TERMINAL = {"success", "failed"}


class AirflowClient:
    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self._http = httpx.Client(base_url=base_url, timeout=30)
        self._credentials = {"username": username, "password": password}
        self._token: str | None = None

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            response = self._http.post("/auth/token", json=self._credentials)
            if response.status_code != 201:
                raise PlatformError(
                    f"Airflow refused the login ({response.status_code}): {response.text}"
                )
            self._token = response.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._http.request(method, f"/api/v2{path}", headers=self._headers(), **kwargs)
        if response.status_code >= 400:
            raise PlatformError(
                f"Airflow {method} {path} -> {response.status_code}: {response.text}"
            )
        return response

    def healthy(self) -> bool:
        try:
            return self._http.get("/api/v2/monitor/health").status_code == 200
        except httpx.TransportError:
            return False

    def wait_for_dag(self, dag_id: str, timeout_s: float = 180) -> None:
        """Wait until the dag-processor has parsed `dag_id` (fail on import errors)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            response = self._http.get(f"/api/v2/dags/{dag_id}", headers=self._headers())
            if response.status_code == 200:
                return
            errors = self.call("GET", "/importErrors").json().get("import_errors", [])
            if errors:
                raise PlatformError(
                    f"Airflow cannot import the DAG files: {errors[0]['stack_trace']}"
                )
            time.sleep(2)
        raise PlatformError(f"Airflow did not parse DAG {dag_id} within {timeout_s:.0f}s")

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any]) -> dict[str, Any]:
        body = {"dag_run_id": run_id, "logical_date": None, "conf": conf}
        return self.call("POST", f"/dags/{dag_id}/dagRuns", json=body).json()

    def runs(self, dag_id: str, run_type: str | None = None) -> list[str]:
        """Run ids of `dag_id`, oldest first, optionally of one run type."""
        listed = self.call("GET", f"/dags/{dag_id}/dagRuns", params={"order_by": "run_after"})
        return [
            r["dag_run_id"]
            for r in listed.json()["dag_runs"]
            if run_type is None or r["run_type"] == run_type
        ]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """The run's task instances as the REST API gives them (state, hostname, pid, ...)."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return self.call("GET", path).json()["task_instances"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}

    def wait_for_run(self, dag_id: str, run_id: str, timeout_s: float = 900) -> str:
        """Poll until the run ends, printing each task's state change."""
        deadline = time.monotonic() + timeout_s
        seen: dict[str, str | None] = {}
        while time.monotonic() < deadline:
            for task, state in self.task_states(dag_id, run_id).items():
                if state != seen.get(task) and state is not None:
                    print(f"    {run_id}: {task} {state}", flush=True)
                seen[task] = state
            state = self.run_state(dag_id, run_id)
            if state in TERMINAL:
                return state
            time.sleep(3)
        raise PlatformError(f"run {run_id} of {dag_id} did not finish within {timeout_s:.0f}s")
