"""Parsing the DAG folder: no import errors, one DAG per workflow, no TensorFlow."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from modelfleet.settings import CHECKOUT

pytestmark = pytest.mark.integration

PARSE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(sys.argv[1])
heavy = [m for m in ("tensorflow", "keras", "great_expectations", "sklearn") if m in sys.modules]
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()},
                  "dags": sorted(bag.dags), "heavy": heavy,
                  "tasks": [t.task_id for t in bag.dags["retrain__digits"].tasks]}))
"""


def test_dag_folder_parses_without_tensorflow(pg_server, tmp_path):
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg_server,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    out = subprocess.run(
        [sys.executable, "-c", PARSE, str(CHECKOUT / "dags")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    from modelfleet.config import load_fleet

    assert result["errors"] == {}
    expected = sorted(
        wf.dag_id for wf in load_fleet(CHECKOUT / "workflows.yaml").workflows.values()
    )
    assert result["dags"] == expected
    assert len(expected) == 20
    assert result["heavy"] == []
    assert result["tasks"] == [
        "snapshot",
        "validate",
        "train",
        "evaluate",
        "gate",
        "register",
        "deploy",
        "smoke",
    ]
