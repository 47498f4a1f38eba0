"""workflows.yaml (and the user's workflows.d) -> typed, validated fleet configuration.

    policies     training parameters, gate, release (approval, shadow), smoke,
                 expectations, serving, ingest, monitor
    workflow     one workflow: source, classes, shape, architecture, schedule, policies
    fleet        the workflows and applications, checked together; TrainSpec for DVC
    parse        parsed documents -> Fleet (`defaults:` deep-merged under each entry)
    load         files -> Fleet: YAML, the user's files, the last fleet cached
    workflows_d  the user's workflow files: propose one from a folder, write one

A workflow's `source:` block is a data source spec of `modelfleet.datasets.catalog`.
`workflows_d` is not imported here: it reads folders (fsspec), which loading a fleet
does not need.
"""

from __future__ import annotations

from modelfleet.config.fleet import ApplicationSpec, Fleet, ParentSpec, TrainSpec
from modelfleet.config.load import load_fleet, read_document, user_files
from modelfleet.config.parse import deep_merge, parse_fleet
from modelfleet.config.policies import (
    CheckName,
    Expectations,
    GatePolicy,
    IngestPolicy,
    MonitorPolicy,
    MonitorThresholds,
    ReleasePolicy,
    ServingPolicy,
    SmokePolicy,
    TrainParams,
    parse_duration,
)
from modelfleet.config.workflow import WORKFLOW_NAME, Workflow

__all__ = [
    "WORKFLOW_NAME",
    "ApplicationSpec",
    "CheckName",
    "Expectations",
    "Fleet",
    "GatePolicy",
    "IngestPolicy",
    "MonitorPolicy",
    "MonitorThresholds",
    "ParentSpec",
    "ReleasePolicy",
    "ServingPolicy",
    "SmokePolicy",
    "TrainParams",
    "TrainSpec",
    "Workflow",
    "deep_merge",
    "load_fleet",
    "parse_duration",
    "parse_fleet",
    "read_document",
    "user_files",
]
