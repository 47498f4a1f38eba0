"""What one Airflow run of `retrain__<wf>` recorded so far, in one read: the facts its
OpenLineage events carry (orchestration/lineage_facets.py).

A run writes each row with its (dag_id, run_id), so the newest row of each kind for
that pair is this run's: a validate that quarantined and re-snapshotted wrote a second
dataset version, and the newest is the one that went on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.registry.db import short_use_engine

# The read waits this long at most: the OpenLineage event waits on it (and the task with it).
READ_TIMEOUT_S = 3


@dataclass(frozen=True)
class RunDataset:
    month: str
    train_dvc_md5: str | None
    train_manifest_sha256: str
    n_train: int


@dataclass(frozen=True)
class RunValidation:
    success: bool
    gx_run_id: str | None
    data_docs: str | None
    statistics: dict[str, Any]


@dataclass(frozen=True)
class RunTraining:
    id: int
    architecture: str
    artifact_sha256: str


@dataclass(frozen=True)
class RunGate:
    passed: bool
    failed_checks: list[str]
    overridden_by: str | None


@dataclass(frozen=True)
class RunVersion:
    version: str
    tag: str
    artifact_sha256: str
    repo_commit: str


@dataclass(frozen=True)
class RunLineage:
    """Each part is None until the run's task that writes it has run."""

    dataset: RunDataset | None = None
    validation: RunValidation | None = None
    training: RunTraining | None = None
    gate: RunGate | None = None
    version: RunVersion | None = None


# One round trip, no ORM: the OpenLineage listener may run this in a freshly forked process
# (its default; modelfleet sets a thread), where configuring the ORM's mappers and compiling
# five queries cost more than the read.
_NEWEST = ", ".join(
    f"(SELECT row_to_json(t) FROM (SELECT {columns} FROM {table} "
    f"WHERE dag_id = :dag_id AND run_id = :run_id ORDER BY id DESC LIMIT 1) t) AS {table}"
    for table, columns in (
        ("dataset_version", "month, train_dvc_md5, train_manifest_sha256, n_train"),
        ("validation", "success, gx_run_id, data_docs, statistics"),
        ("training_run", "id, architecture, artifact_sha256"),
        ("gate_decision", "passed, checks, override_actor"),
        ("model_version", "version, tag, artifact_sha256, repo_commit"),
    )
)
_QUERY = sa.text(f"SELECT {_NEWEST}")


def run_lineage(session: Session, dag_id: str, run_id: str) -> RunLineage:
    """The newest dataset, validation, training run, gate decision and version of a run."""
    row = session.execute(_QUERY, {"dag_id": dag_id, "run_id": run_id}).one()
    ds, val, tr, gate, mv = (
        row.dataset_version,
        row.validation,
        row.training_run,
        row.gate_decision,
        row.model_version,
    )
    return RunLineage(
        dataset=None
        if ds is None
        else RunDataset(
            ds["month"], ds["train_dvc_md5"], ds["train_manifest_sha256"], ds["n_train"]
        ),
        validation=None
        if val is None
        else RunValidation(
            val["success"], val["gx_run_id"], val["data_docs"], dict(val["statistics"] or {})
        ),
        training=None
        if tr is None
        else RunTraining(tr["id"], tr["architecture"], tr["artifact_sha256"]),
        gate=None
        if gate is None
        else RunGate(
            gate["passed"],
            [str(c.get("name")) for c in gate["checks"] if not c.get("passed", True)],
            gate["override_actor"],
        ),
        version=None
        if mv is None
        else RunVersion(mv["version"], mv["tag"], mv["artifact_sha256"], mv["repo_commit"]),
    )


def read_run_lineage(url: str, dag_id: str, run_id: str) -> RunLineage:
    """`run_lineage` over a connection of its own (no pool; READ_TIMEOUT_S at most to
    connect and to read), opened and closed here. The OpenLineage listener calls it in a
    thread it may abandon at its timeout, or, with `execute_in_thread` off, in a process
    forked from the task's, where the pooled connections of `db.engine()` belong to the
    parent and must not be touched."""
    engine = short_use_engine(url, READ_TIMEOUT_S)
    try:
        with Session(engine) as session:
            return run_lineage(session, dag_id, run_id)
    finally:
        engine.dispose(close=False)
