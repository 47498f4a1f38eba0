"""A small client for Airflow's REST API v2 (token auth)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from modelfleet.errors import PlatformError, RunTimedOut

TERMINAL = {"success", "failed"}

# Fields of a structured log record that say where it came from (every record of a task
# carries them); the rest (a skip's `reason`, ...) is shown with the event.
_LOG_PLUMBING = {
    "event", "timestamp", "level", "logger", "filename", "lineno", "error_detail",
    "dag_id", "task_id", "run_id", "try_number", "map_index", "ti_id",
    "bundle_name", "bundle_version",
}  # fmt: skip
# The group Airflow opens each log with, naming the log file it read.
_SOURCE_GROUP = "::group::Log message source details"


class AirflowClient:
    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`transport` replaces the network (tests pass an `httpx.MockTransport`)."""
        self.base_url = base_url
        self._http = httpx.Client(base_url=base_url, timeout=30, transport=transport)
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
        headers = {**kwargs.pop("headers", {}), **self._headers()}
        try:
            response = self._http.request(method, f"/api/v2{path}", headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise PlatformError(f"Airflow at {self.base_url} does not answer: {exc}") from None
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

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        """The DAG as the REST API gives it (`is_paused`, ...), or None if Airflow has none."""
        try:
            return self.call("GET", f"/dags/{dag_id}").json()
        except PlatformError as exc:
            if f"-> {httpx.codes.NOT_FOUND}" in str(exc):
                return None
            raise

    def dag_ids(self, prefix: str = "") -> list[str]:
        """Ids of the DAGs Airflow holds whose id starts with `prefix`, sorted."""
        listed = self.call("GET", "/dags", params={"dag_id_pattern": prefix, "limit": 1000})
        return sorted(d["dag_id"] for d in listed.json()["dags"] if d["dag_id"].startswith(prefix))

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def trigger(
        self,
        dag_id: str,
        run_id: str,
        conf: dict[str, Any],
        logical_date: datetime | None = None,
    ) -> dict[str, Any]:
        """Create a manual run; returns it as the REST API gives it (data interval, ...).

        Without `logical_date` the run has none: it starts at once and has no data
        interval. With one (the UI's Trigger sends "now"), Airflow infers the interval.
        """
        body = {
            "dag_run_id": run_id,
            "logical_date": None if logical_date is None else logical_date.isoformat(),
            "conf": conf,
        }
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

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        timeout_s: float = 900,
        progress: Callable[[str, str], None] | None = None,
        poll_s: float = 3.0,
    ) -> str:
        """Poll until the run ends; returns its state (success or failed).

        `progress(task_id, state)` hears each task's state change (default: a printed
        line). Raises RunTimedOut if the run is still going after `timeout_s`.
        """

        def printed(task: str, state: str) -> None:
            print(f"    {run_id}: {task} {state}", flush=True)

        report = progress or printed
        deadline = time.monotonic() + timeout_s
        seen: dict[str, str | None] = {}
        while True:
            for task, state in self.task_states(dag_id, run_id).items():
                if state != seen.get(task) and state is not None:
                    report(task, state)
                seen[task] = state
            state = self.run_state(dag_id, run_id)
            if state in TERMINAL:
                return state
            if time.monotonic() >= deadline:
                raise RunTimedOut(
                    f"run {run_id} of {dag_id} did not finish within {timeout_s:.0f}s "
                    f"(it is {state}; Airflow goes on with it)"
                )
            time.sleep(poll_s)

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> list[str]:
        """One try of a task's log as text lines (a raised exception as `Type: message`)."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        content = self.call(
            "GET", path, params={"full_content": "true"}, headers={"Accept": "application/json"}
        ).json()["content"]
        lines: list[str] = []
        in_source_group = False
        for record in content:
            event = record.get("event") if isinstance(record, dict) else record
            if event == _SOURCE_GROUP or (in_source_group and event == "::endgroup::"):
                in_source_group = event == _SOURCE_GROUP
                continue
            if not in_source_group:
                lines.extend(log_lines(record))
        return lines


def log_lines(record: dict[str, Any] | str) -> list[str]:
    """Text lines of one structured log record of Airflow 3 (or a plain line)."""
    if isinstance(record, str):
        return record.splitlines()
    extra = " ".join(f"{k}={v}" for k, v in record.items() if k not in _LOG_PLUMBING)
    lines = [" ".join(part for part in (str(record.get("event", "")), extra) if part)]
    for error in record.get("error_detail") or []:
        lines.extend(f"{error.get('exc_type')}: {error.get('exc_value')}".splitlines())
    return lines
