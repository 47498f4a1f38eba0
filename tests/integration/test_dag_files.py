"""Parsing the DAG folder: no import errors, three DAGs per workflow, no TensorFlow."""

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
                  "tasks": [t.task_id for t in bag.dags["retrain__digits"].tasks],
                  "reclassify": [t.task_id for t in bag.dags["reclassify__digits"].tasks],
                  "monitor": [t.task_id for t in bag.dags["monitor__digits"].tasks],
                  "drift": [a.uri for a in bag.dags["monitor__digits"].get_task("announce").outlets],
                  "outlets": [a.uri for a in bag.dags["retrain__digits"].get_task("smoke").outlets]}))
"""


# Each DAG as the scheduler stores it, by id: a digest of its serialized form, less its
# Params' `examples` (the months the trigger form proposes are the DAG processor's alone;
# a task process never shows the form).
SERIALIZED = """
import hashlib, json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.serialized_objects import DagSerialization
def without_examples(node):
    if isinstance(node, dict):
        return {k: without_examples(v) for k, v in node.items() if k != "examples"}
    if isinstance(node, (list, tuple)):
        return [without_examples(v) for v in node]
    return node
bag = DagBag(sys.argv[1])
assert not bag.import_errors, bag.import_errors
print(json.dumps({
    dag_id: hashlib.sha256(json.dumps(
        without_examples(DagSerialization.to_dict(dag)), sort_keys=True, default=str
    ).encode()).hexdigest()
    for dag_id, dag in bag.dags.items()
}))
"""


def _parse(script: str, pg_server: str, tmp_path, **extra_env: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "_AIRFLOW_PARSING_CONTEXT_DAG_ID"}
    env.update(
        AIRFLOW_HOME=str(tmp_path),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=pg_server,
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        **extra_env,
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(CHECKOUT / "dags")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_dag_folder_parses_without_tensorflow(pg_server, tmp_path):
    result = _parse(PARSE, pg_server, tmp_path)
    from modelfleet.config import load_fleet

    assert result["errors"] == {}
    names = load_fleet(CHECKOUT / "workflows.yaml").workflows
    expected = sorted(
        f"{kind}__{n}" for n in names for kind in ("retrain", "reclassify", "monitor")
    )
    assert result["dags"] == expected
    assert len(expected) == 60
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
    assert result["reclassify"] == ["pin", "wait_loaded", "reclassify", "unpin"]
    assert result["outlets"] == ["modelfleet://digits/production"]
    assert result["monitor"] == ["report", "alerted", "announce"]
    assert result["drift"] == ["modelfleet://digits/drift"]


def test_reclassify_follows_promotions_only_where_configured(platform):
    # `platform` first: importing Airflow before it is configured would pin the whole
    # session to SQLite.
    import yaml

    from modelfleet.config import parse_fleet
    from modelfleet.orchestration.dag_factory import build_all, production_asset

    doc = yaml.safe_load((CHECKOUT / "workflows.yaml").read_text())
    doc["workflows"]["digits"]["ingest"] = {"reclassify_after_promotion": True}
    dags = build_all(parse_fleet(doc))
    assert dags["reclassify__digits"].schedule == [production_asset("digits")]
    others = [
        d for i, d in dags.items() if i.startswith("reclassify__") and i != "reclassify__digits"
    ]
    assert others and all(d.schedule is None for d in others)  # triggered by hand only
    # Every retrain DAG announces its promotions, whoever listens.
    assert dags["retrain__weld_pipe"].get_task("smoke").outlets == [production_asset("weld_pipe")]
    unpin = dags["reclassify__digits"].get_task("unpin")
    assert unpin.is_teardown and dags["reclassify__digits"].get_task("pin").is_setup


def test_a_task_process_builds_its_own_dag_only_the_same_but_for_the_forms_months(
    pg_server, tmp_path
):
    # Airflow's task runner parses the DAG file under a parsing context naming the
    # task's DAG (what `get_parsing_context()` reads); the DAG processor has none.
    everything = _parse(SERIALIZED, pg_server, tmp_path)
    assert len(everything) == 60
    for dag_id in ("retrain__digits", "reclassify__weld_pipe", "monitor__digits"):
        alone = _parse(SERIALIZED, pg_server, tmp_path, _AIRFLOW_PARSING_CONTEXT_DAG_ID=dag_id)
        assert alone == {dag_id: everything[dag_id]}
    # A context naming some other DAG builds the whole fleet, as without one.
    other = _parse(SERIALIZED, pg_server, tmp_path, _AIRFLOW_PARSING_CONTEXT_DAG_ID="elsewhere")
    assert other == everything
