"""OpenLineage for `retrain__<wf>`: what each task read and wrote, with modelfleet's facts.

The mechanism is a custom extractor (`[openlineage] extractors`, set by `airflow_env`) for
the TaskFlow operator classes. Airflow's provider calls it after the task ended, in a
thread of the task's process (`[openlineage] execute_in_thread`, which `airflow_env` sets;
the task waits for it); it reads the run's rows from the lineage database in one short
connection and maps them, through `naming`, to datasets that chain:

    snapshot  -> <wf>/data/<month>                      (month, DVC md5, manifest sha256)
    validate  <wf>/data/<month> -> .../validated         (+ the GX result; when the
              checks failed, the result is on the month read, and nothing is written)
    train     .../validated -> <wf>/runs/<training run>  (sha256 of the weights)
    gate      <wf>/runs/<id>, run facet: the verdict
    register  <wf>/runs/<id> -> <wf>@vX.Y.Z              (GTO tag, sha256, commit)
    deploy, smoke  <wf>@vX.Y.Z

Other DAGs' tasks get nothing from here (the provider's own handling applies).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import attr
from airflow.providers.openlineage.extractors.base import BaseExtractor, OperatorLineage
from openlineage.client.event_v2 import InputDataset, OutputDataset
from openlineage.client.facet_v2 import DatasetFacet, RunFacet

from modelfleet.naming import (
    LINEAGE_NAMESPACE,
    Version,
    lineage_candidate_dataset,
    lineage_facet_schema,
    lineage_month_dataset,
    lineage_validated_dataset,
    lineage_version_dataset,
    retrain_dag_id,
    tag_name,
    workflow_of_dag,
)
from modelfleet.registry.db import database_url
from modelfleet.registry.store.run_lineage import RunLineage, read_run_lineage

DATASET_FACET = "modelfleet_dataset"
MODEL_FACET = "modelfleet_model"
GATE_FACET = "modelfleet_gate"


@attr.define
class ModelfleetDatasetFacet(DatasetFacet):
    """A month's snapshot; the GX fields are set once it has been validated."""

    workflow: str
    month: str
    dvc_md5: str | None
    manifest_sha256: str
    n_train: int
    gx_success: bool | None = None
    gx_run_id: str | None = None
    gx_statistics: dict[str, Any] | None = None
    data_docs: str | None = None

    _get_schema = staticmethod(partial(lineage_facet_schema, DATASET_FACET))


@attr.define
class ModelfleetModelFacet(DatasetFacet):
    """A trained model: `version` and `gto_tag` are None until it is registered."""

    workflow: str
    training_run_id: int
    architecture: str
    sha256: str
    version: str | None = None  # <wf>@vX.Y.Z
    gto_tag: str | None = None
    repo_commit: str | None = None

    _get_schema = staticmethod(partial(lineage_facet_schema, MODEL_FACET))


@attr.define
class ModelfleetGateFacet(RunFacet):
    """The gate's verdict on the run's candidate."""

    verdict: str  # PASSED | REJECTED
    passed: bool
    failed_checks: list[str]
    overridden_by: str | None = None  # who approved a rejected candidate

    _get_schema = staticmethod(partial(lineage_facet_schema, GATE_FACET))


def _month(workflow: str, facts: RunLineage, validated: bool) -> list[Any]:
    """The run's month dataset (as an output, with its facet), or nothing yet. `validated`:
    with the GX result, named as validated if it passed (a failed one keeps the month's
    name: nothing validated came of it)."""
    ds = facts.dataset
    if ds is None:
        return []
    facet = ModelfleetDatasetFacet(
        workflow, ds.month, ds.train_dvc_md5, ds.train_manifest_sha256, ds.n_train
    )
    name = lineage_month_dataset(workflow, ds.month)
    if validated:
        val = facts.validation
        if val is None:
            return []
        facet = attr.evolve(
            facet,
            gx_success=val.success,
            gx_run_id=val.gx_run_id,
            gx_statistics=val.statistics,
            data_docs=val.data_docs,
        )
        if val.success:
            name = lineage_validated_dataset(workflow, ds.month)
    return [OutputDataset(LINEAGE_NAMESPACE, name, facets={DATASET_FACET: facet})]


def _model(workflow: str, facts: RunLineage, registered: bool) -> list[Any]:
    tr = facts.training
    if tr is None:
        return []
    facet = ModelfleetModelFacet(workflow, tr.id, tr.architecture, tr.artifact_sha256)
    name = lineage_candidate_dataset(workflow, tr.id)
    if registered:
        mv = facts.version
        if mv is None:
            return []
        version = Version.parse(mv.version)
        name = lineage_version_dataset(workflow, version)
        facet = attr.evolve(
            facet,
            sha256=mv.artifact_sha256,
            version=tag_name(workflow, version),
            gto_tag=mv.tag,
            repo_commit=mv.repo_commit,
        )
    return [OutputDataset(LINEAGE_NAMESPACE, name, facets={MODEL_FACET: facet})]


def _as_inputs(outputs: list[Any], facets: bool = False) -> list[InputDataset]:
    """The same datasets as inputs: names only (a consumer joins on them), unless `facets`."""
    return [InputDataset(d.namespace, d.name, facets=d.facets if facets else None) for d in outputs]


def _gate(facts: RunLineage) -> dict[str, Any]:
    gate = facts.gate
    if gate is None:
        return {}
    verdict = "PASSED" if gate.passed else "REJECTED"
    return {
        GATE_FACET: ModelfleetGateFacet(
            verdict, gate.passed, gate.failed_checks, gate.overridden_by
        )
    }


def task_lineage(workflow: str, task_id: str, facts: RunLineage) -> OperatorLineage:
    """What the retrain task `task_id` read and wrote, given what its run recorded."""
    month, validated = _month(workflow, facts, False), _month(workflow, facts, True)
    judged = _as_inputs(month)
    if facts.validation is not None and not facts.validation.success:
        # validate failed (its FAIL event): the GX result is on the month it judged
        judged, validated = _as_inputs(validated, facets=True), []
    candidate, version = _model(workflow, facts, False), _model(workflow, facts, True)
    parts: dict[str, tuple[list[Any], list[Any], dict[str, Any]]] = {
        "snapshot": ([], month, {}),
        "validate": (judged, validated, {}),
        "train": (_as_inputs(validated), candidate, {}),
        "evaluate": (_as_inputs(candidate), [], {}),
        "gate": (_as_inputs(candidate), [], _gate(facts)),
        "register": (_as_inputs(candidate), version, _gate(facts)),
        "deploy": (_as_inputs(version), [], {}),
        "smoke": (_as_inputs(version), [], {}),
    }
    inputs, outputs, run_facets = parts.get(task_id, ([], [], {}))
    return OperatorLineage(inputs=inputs, outputs=outputs, run_facets=run_facets)


class RetrainTaskExtractor(BaseExtractor):
    """The TaskFlow tasks of `retrain__<wf>` (see the module's docstring)."""

    @classmethod
    def get_operator_classnames(cls) -> list[str]:
        # What `@task` and `@task.short_circuit` build (Airflow's task_type).
        return ["_PythonDecoratedOperator", "_ShortCircuitDecoratedOperator"]

    def _execute_extraction(self) -> OperatorLineage | None:
        return OperatorLineage()  # at start nothing is recorded yet: no query

    def extract_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        dag_id = task_instance.dag_id
        workflow = workflow_of_dag(dag_id)
        if workflow is None or dag_id != retrain_dag_id(workflow):
            return OperatorLineage()
        facts = read_run_lineage(database_url(), dag_id, task_instance.run_id)
        return task_lineage(workflow, task_instance.task_id, facts)
