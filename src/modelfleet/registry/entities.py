"""Plain objects the store returns (never ORM rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class RunRef:
    """Who wrote a row: the Airflow run and the code commit."""

    dag_id: str | None = None
    run_id: str | None = None
    code_sha: str | None = None

    def columns(self) -> dict[str, str | None]:
        return {"dag_id": self.dag_id, "run_id": self.run_id, "code_sha": self.code_sha}


@dataclass(frozen=True)
class ModelVersion:
    id: int
    workflow: str
    version: str
    version_int: int
    tag: str
    artifact_sha256: str
    repo_commit: str
    training_run_id: int
    dag_id: str | None
    run_id: str | None
    created_at: datetime
    artifacts: dict[str, str] | None = None


@dataclass(frozen=True)
class AliasEvent:
    workflow: str
    alias: str
    from_version: str | None
    to_version: str
    actor: str
    reason: str
    run_id: str | None
    at: datetime


@dataclass(frozen=True)
class GateCheck:
    """One check of the gate: observed value, threshold, verdict."""

    name: str
    observed: float
    threshold: float
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "observed": self.observed,
            "threshold": self.threshold,
            "passed": self.passed,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Prediction:
    id: int
    workflow: str
    version: str
    image_sha256: str
    label: str
    score: float
    source: str
    stored_path: str | None
    created_at: datetime


@dataclass(frozen=True)
class Application:
    """A client of the endpoint and what it may query: workflow -> pin."""

    name: str
    admin: bool
    grants: dict[str, str]
    has_key: bool
    declared: bool
    created_by: str
    created_at: datetime
    revoked_at: datetime | None = None
    labels: frozenset[str] = frozenset()  # workflows whose images it may label


@dataclass(frozen=True)
class WorkflowEvent:
    """A user's workflow added or archived: by whom, why, and what it changed."""

    workflow: str
    event: str  # added | archived
    actor: str
    reason: str
    detail: dict[str, Any]
    at: datetime


# What a pipeline run records before a version exists. Each row has two dataclasses: the
# record the pipeline hands the store to write (`New...`: keyword-only, so that a call
# names every column it fills, plus `workflow` and `run`, which the store resolves) and
# the entity the store reads back (plus the row's id, provenance and time). The columns
# both carry are declared once, in the `...Fields` class they share; `Stored` and
# `Written` add what only one side has.


@dataclass(frozen=True, kw_only=True)
class Stored:
    """What the store adds to a record it wrote: the row's id, provenance and time."""

    id: int
    dag_id: str | None
    run_id: str | None
    code_sha: str | None
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class Written:
    """What a record tells the store besides its columns: the run that wrote it."""

    run: RunRef


@dataclass(frozen=True, kw_only=True)
class DatasetFields:
    """A month's snapshot: the three splits' manifests and sizes, the DVC hash of train."""

    month: str
    train_manifest_sha256: str
    holdout_manifest_sha256: str
    test_manifest_sha256: str
    train_dvc_md5: str | None
    n_train: int
    n_holdout: int
    n_test: int
    months: list[str]  # the months the training window holds
    # labelled lake images: included, and those left out (test set, duplicate, missing)
    labelled: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class ValidationFields:
    """The outcome of a dataset version's checks, and what it quarantined."""

    dataset_version_id: int
    success: bool
    gx_run_id: str | None
    statistics: dict[str, Any]
    results: list[dict[str, Any]]
    data_docs: str | None
    # {"<split>/<path>": [failed checks]} of the files behind blocking failures
    offending_files: dict[str, list[str]] | None = None
    # [{"file", "reason", "moved_to"}] taken out of the delivery by this validation
    quarantined: list[dict[str, str]] | None = None


@dataclass(frozen=True, kw_only=True)
class TrainingFields:
    """A candidate trained on a dataset version, maybe warm-started from a parent."""

    dataset_version_id: int
    architecture: str
    params: dict[str, Any]
    artifact_sha256: str
    fit_seconds: float
    parent_version_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class EvaluationFields:
    """A model's metrics on one split; `model_version_id` is None for the candidate."""

    training_run_id: int
    role: str  # candidate | production
    split: str  # test | holdout
    metrics: dict[str, Any]
    model_version_id: int | None


@dataclass(frozen=True, kw_only=True)
class DatasetVersion(DatasetFields, Stored):
    def manifest_shas(self) -> dict[str, str]:
        """The manifest sha256 of each split: train, holdout, test."""
        return {
            "train": self.train_manifest_sha256,
            "holdout": self.holdout_manifest_sha256,
            "test": self.test_manifest_sha256,
        }


@dataclass(frozen=True, kw_only=True)
class NewDatasetVersion(DatasetFields, Written):
    workflow: str


@dataclass(frozen=True, kw_only=True)
class Validation(ValidationFields, Stored):
    """A validation as the store returns it."""


@dataclass(frozen=True, kw_only=True)
class NewValidation(ValidationFields, Written):
    """A validation as the pipeline hands it to the store."""


@dataclass(frozen=True, kw_only=True)
class TrainingRun(TrainingFields, Stored):
    """A training run as the store returns it."""


@dataclass(frozen=True, kw_only=True)
class NewTrainingRun(TrainingFields, Written):
    workflow: str


@dataclass(frozen=True, kw_only=True)
class Evaluation(EvaluationFields):
    id: int


@dataclass(frozen=True, kw_only=True)
class NewEvaluation(EvaluationFields, Written):
    """An evaluation as the pipeline hands it to the store."""


@dataclass(frozen=True, kw_only=True)
class GateDecision:
    id: int
    training_run_id: int
    passed: bool
    checks: list[dict[str, Any]]  # GateCheck.as_dict() of each check
    override_actor: str | None
    override_reason: str | None
    dag_id: str | None
    run_id: str | None
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class NewGateDecision:
    """The gate's verdict on a candidate, or a person's override of it."""

    training_run_id: int
    passed: bool
    checks: list[GateCheck]
    run: RunRef
    override_actor: str | None = None
    override_reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class NewVersion:
    """A released version: its tag, commit and weights, and the run that trained it."""

    workflow: str
    version: str
    version_int: int
    tag: str
    training_run_id: int
    artifact_sha256: str
    repo_commit: str
    run: RunRef
    artifacts: dict[str, str] | None = None  # where its files lie in the repo at its tag


@dataclass(frozen=True)
class ReleasedVersion:
    """A released version with the month and params it was trained on (for semver)."""

    version: str
    month: str
    params: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class NewPrediction:
    """One model version's answer for one image, and where the image came from."""

    model_version_id: int
    image_sha256: str
    label: str
    score: float
    scores: dict[str, Any]  # label -> score
    source: str
    stored_path: str | None
