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


@dataclass(frozen=True)
class WorkflowEvent:
    """A user's workflow added or archived: by whom, why, and what it changed."""

    workflow: str
    event: str  # added | archived
    actor: str
    reason: str
    detail: dict[str, Any]
    at: datetime
