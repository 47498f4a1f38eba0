"""The retrain tasks' OpenLineage datasets and facets, and the provider's configuration."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from modelfleet.orchestration.airflow_env import LINEAGE_EXTRACTOR, openlineage_env
from modelfleet.orchestration.lineage_facets import (
    DATASET_FACET,
    GATE_FACET,
    MODEL_FACET,
    RetrainTaskExtractor,
    task_lineage,
)
from modelfleet.registry.store.run_lineage import (
    RunDataset,
    RunGate,
    RunLineage,
    RunTraining,
    RunValidation,
    RunVersion,
)
from modelfleet.settings import get_settings

FACTS = RunLineage(
    dataset=RunDataset("2026-02", "md5abc", "manifest", 120),
    validation=RunValidation(True, "gx-1", "file:///docs", {"evaluated_expectations": 9}),
    training=RunTraining(17, "lenet", "sha-cand"),
    gate=RunGate(False, ["min_accuracy"], "alice"),
    version=RunVersion("v1.1.0", "digits@v1.1.0", "sha-cand", "c0ffee"),
)


def names(datasets: list[Any]) -> list[str]:
    return [d.name for d in datasets]


def test_each_task_reads_what_the_one_before_wrote():
    out = {
        t: task_lineage("digits", t, FACTS) for t in ("snapshot", "validate", "train", "register")
    }
    assert names(out["snapshot"].outputs) == ["digits/data/2026-02"]
    assert names(out["validate"].inputs) == names(out["snapshot"].outputs)
    assert names(out["validate"].outputs) == ["digits/data/2026-02/validated"]
    assert names(out["train"].inputs) == names(out["validate"].outputs)
    assert names(out["train"].outputs) == ["digits/runs/17"]
    assert names(out["register"].inputs) == names(out["train"].outputs)
    assert names(out["register"].outputs) == ["digits@v1.1.0"]


def test_the_facets_carry_month_md5_gx_sha256_tag_and_verdict():
    validated = task_lineage("digits", "validate", FACTS).outputs[0].facets[DATASET_FACET]
    assert (validated.month, validated.dvc_md5, validated.gx_success) == ("2026-02", "md5abc", True)
    model = task_lineage("digits", "register", FACTS).outputs[0].facets[MODEL_FACET]
    assert (model.version, model.gto_tag, model.sha256) == ("digits@v1.1.0",) * 2 + ("sha-cand",)
    gate = task_lineage("digits", "gate", FACTS).run_facets[GATE_FACET]
    assert (gate.verdict, gate.failed_checks, gate.overridden_by) == (
        "REJECTED",
        ["min_accuracy"],
        "alice",
    )


def test_before_anything_is_recorded_and_for_other_tasks_there_is_nothing():
    empty = task_lineage("digits", "register", RunLineage())
    assert (empty.inputs, empty.outputs, empty.run_facets) == ([], [], {})
    other = task_lineage("digits", "pin", FACTS)
    assert (other.inputs, other.outputs) == ([], [])


def test_the_extractor_covers_the_taskflow_operators():
    assert set(RetrainTaskExtractor.get_operator_classnames()) == {
        "_PythonDecoratedOperator",
        "_ShortCircuitDecoratedOperator",
    }


def test_airflow_gets_the_file_transport_by_default_http_with_a_url_and_off(tmp_path):
    settings = dataclasses.replace(get_settings(), home=tmp_path)
    env = openlineage_env(settings)
    transport = json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"])
    assert transport["type"] == "file"
    assert transport["log_file_path"] == str(tmp_path / "openlineage" / "airflow.jsonl")
    assert (tmp_path / "openlineage").is_dir()
    assert env["AIRFLOW__OPENLINEAGE__EXTRACTORS"] == LINEAGE_EXTRACTOR
    assert env["AIRFLOW__OPENLINEAGE__NAMESPACE"] == "modelfleet"
    assert env["AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD"] == "True"

    marquez = dataclasses.replace(settings, openlineage_url="http://marquez:5000")
    sent = json.loads(openlineage_env(marquez)["AIRFLOW__OPENLINEAGE__TRANSPORT"])
    assert (sent["type"], sent["url"]) == ("http", "http://marquez:5000")

    off = dataclasses.replace(settings, openlineage=False)
    assert openlineage_env(off) == {"AIRFLOW__OPENLINEAGE__DISABLED": "True"}


def test_a_failed_validation_writes_nothing_and_judges_the_month():
    failed = dataclasses.replace(
        FACTS,
        validation=RunValidation(False, "gx-2", None, {}),
        training=None,
        gate=None,
        version=None,
    )
    lineage = task_lineage("digits", "validate", failed)
    assert lineage.outputs == []
    (month,) = lineage.inputs
    assert month.name == "digits/data/2026-02"
    assert month.facets[DATASET_FACET].gx_success is False
