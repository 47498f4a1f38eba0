"""OpenLineage from a real `retrain__<wf>` run: Airflow's provider, configured as `up`
configures it (`airflow_env.openlineage_env`), writes the events to the file transport
under the test's MODELFLEET_HOME; the test follows the chain month -> validation ->
training run -> version through the datasets' names and checks the facets' values.

The run is label_printer2's first (LeNet, procedural labels), which no other module
releases, with a gate that any first model passes: the chain is about plumbing, and a
first release holds whatever other modules did to digits on the session platform."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy.orm import Session

from modelfleet.naming import (
    LINEAGE_NAMESPACE,
    Version,
    lineage_month_dataset,
    lineage_task_job,
    lineage_version_dataset,
    retrain_dag_id,
)
from modelfleet.settings import CHECKOUT, CONFIG_ENV
from tests.helpers.lineage_server import lineage_server
from tests.integration.conftest import write_fleet

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MONTH = "2026-01"
WF = "label_printer2"
COMPLAINT = re.compile(r"\[(warning|error|critical)\s*\].*openlineage", re.IGNORECASE)
DAG_ID = retrain_dag_id(WF)
# Run in a process of its own: Airflow loads the provider's listener (or not) once per
# process, from the configuration it finds at start.
RUN = (
    "import sys; from tests.integration.test_retrain_dag import run_dag; "
    "state, tasks = run_dag(*sys.argv[1:]); print('RUN-STATE', state, tasks)"
)


def run_dag_in_a_process(month: str, env: dict[str, str], dag_id: str = DAG_ID) -> str:
    done = subprocess.run(
        [sys.executable, "-c", RUN, month, dag_id],
        cwd=CHECKOUT,
        env=env,
        capture_output=True,
        text=True,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "RUN-STATE " in output, output[-4000:]
    return output


def completed_events(path: Any) -> dict[str, dict[str, Any]]:
    """The COMPLETE event of each task of the DAG, by task id."""
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    done = {}
    for event in events:
        name = event["job"]["name"]
        if event["eventType"] == "COMPLETE" and name.startswith(f"{DAG_ID}."):
            done[name.removeprefix(f"{DAG_ID}.")] = event
    return done


def names(datasets: list[dict[str, Any]]) -> list[str]:
    assert all(d["namespace"] == LINEAGE_NAMESPACE for d in datasets), datasets
    return [d["name"] for d in datasets]


def test_a_retrain_run_emits_one_chain_from_month_to_version(platform, tmp_path):
    from modelfleet.orchestration.airflow_env import openlineage_env
    from modelfleet.registry import db
    from modelfleet.registry.store import versions
    from modelfleet.registry.tables import DatasetVersionRow
    from modelfleet.settings import get_settings

    settings = get_settings()
    gate = {"min_accuracy": 0.0, "min_macro_f1": 0.0, "min_class_recall": 0.0}
    fleet = write_fleet(tmp_path / "workflows.yaml", gate=gate)
    env = {**os.environ, **openlineage_env(settings), CONFIG_ENV: str(fleet)}
    output = run_dag_in_a_process(MONTH, env)
    assert "RUN-STATE success" in output, output[-4000:]
    # The provider worked without a complaint: no extraction failure, no transport error.
    complaints = [line for line in output.splitlines() if COMPLAINT.search(line)]
    assert not complaints, complaints

    events = completed_events(settings.openlineage_dir / "airflow.jsonl")
    for task in ("snapshot", "validate", "train", "gate", "register", "deploy", "smoke"):
        assert events[task]["job"]["name"] == lineage_task_job(DAG_ID, task)
        assert events[task]["job"]["namespace"] == LINEAGE_NAMESPACE
    with Session(db.engine(platform.database_url)) as session:
        recorded = versions.get_version(session, WF, "v1.0.0")
        dataset = session.get(DatasetVersionRow, recorded_dataset_id(session, recorded))

    # month: the snapshot's output, with the month and its DVC md5
    (month,) = events["snapshot"]["outputs"]
    assert month["name"] == lineage_month_dataset(WF, MONTH)
    facet = month["facets"]["modelfleet_dataset"]
    assert facet["month"] == MONTH
    assert facet["dvc_md5"] == dataset.train_dvc_md5 and facet["dvc_md5"]
    # -> validation: reads the month, writes it validated, with the GX result
    validate = events["validate"]
    assert names(validate["inputs"]) == [month["name"]]
    (validated,) = validate["outputs"]
    assert validated["facets"]["modelfleet_dataset"]["gx_success"] is True
    assert validated["facets"]["modelfleet_dataset"]["dvc_md5"] == dataset.train_dvc_md5
    # -> training run: reads the validated month, writes the candidate model
    train = events["train"]
    assert names(train["inputs"]) == [validated["name"]]
    (candidate,) = train["outputs"]
    assert candidate["facets"]["modelfleet_model"]["sha256"] == recorded.artifact_sha256
    # the gate's verdict on that candidate
    gate = events["gate"]
    assert names(gate["inputs"]) == [candidate["name"]]
    assert gate["run"]["facets"]["modelfleet_gate"]["verdict"] == "PASSED"
    assert gate["run"]["facets"]["modelfleet_gate"]["failed_checks"] == []
    # -> version: register reads the candidate, writes <wf>@v1.0.0 with tag and sha256
    register = events["register"]
    assert names(register["inputs"]) == [candidate["name"]]
    (version,) = register["outputs"]
    assert version["name"] == lineage_version_dataset(WF, Version(1, 0, 0))
    model = version["facets"]["modelfleet_model"]
    assert model["version"] == f"{WF}@v1.0.0" == model["gto_tag"] == recorded.tag
    assert model["sha256"] == recorded.artifact_sha256
    assert names(events["deploy"]["inputs"]) == [version["name"]]
    # every task's event belongs to the same DAG run
    parents = {e["run"]["facets"]["parent"]["run"]["runId"] for e in events.values()}
    assert len(parents) == 1, parents


def recorded_dataset_id(session: Session, recorded: Any) -> int:
    from modelfleet.registry.tables import TrainingRunRow

    run = session.get(TrainingRunRow, recorded.training_run_id)
    assert run is not None
    return run.dataset_version_id


def test_off_the_provider_says_nothing_in_the_task_logs(platform):
    """MODELFLEET_OPENLINEAGE=off: not one line of the provider's (a month without data
    runs `snapshot` only, which is enough for the listener to have spoken)."""
    from modelfleet.orchestration.airflow_env import openlineage_env
    from modelfleet.settings import get_settings

    off = dataclasses.replace(get_settings(), openlineage=False)
    output = run_dag_in_a_process(
        "2024-06", {**os.environ, **openlineage_env(off)}, retrain_dag_id("digits")
    )
    assert "[DAG TEST] starting task_id=snapshot " in output, output[-4000:]
    assert "openlineage" not in output.lower(), [
        line for line in output.splitlines() if "openlineage" in line.lower()
    ]


def test_with_a_server_url_the_events_reach_it_over_http(platform):
    """MODELFLEET_OPENLINEAGE_URL: the provider POSTs each event to the server's lineage
    endpoint (Marquez's path, /api/v1/lineage), as `up` configures it. A month without
    data runs `snapshot` only, which is enough for the listener's events."""
    from modelfleet.orchestration.airflow_env import openlineage_env
    from modelfleet.settings import get_settings

    with lineage_server() as (url, received):
        marquez = dataclasses.replace(get_settings(), openlineage_url=url)
        output = run_dag_in_a_process(
            "2024-06", {**os.environ, **openlineage_env(marquez)}, retrain_dag_id("digits")
        )
    assert "[DAG TEST] starting task_id=snapshot " in output, output[-4000:]
    assert {path for path, _ in received} == {"/api/v1/lineage"}, received
    snapshot = lineage_task_job(retrain_dag_id("digits"), "snapshot")
    kinds = [event["eventType"] for _, event in received if event["job"]["name"] == snapshot]
    assert kinds[0] == "START" and kinds[-1] in ("COMPLETE", "FAIL"), kinds
    for _, event in received:
        assert event["job"]["namespace"] == LINEAGE_NAMESPACE and event["run"]["runId"]
    assert not COMPLAINT.search(output), COMPLAINT.findall(output)
