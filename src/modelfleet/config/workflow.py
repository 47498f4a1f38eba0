"""One workflow of the fleet: its data source, classes, input shape, architecture,
schedule, warm start and policies, validated as a whole."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import field_validator, model_validator

from modelfleet.config.policies import (
    Expectations,
    GatePolicy,
    IngestPolicy,
    MonitorPolicy,
    ReleasePolicy,
    ServingPolicy,
    SmokePolicy,
    Strict,
    TrainParams,
    cron_schedule,
)
from modelfleet.datasets.catalog import (
    DigitsSourceConfig,
    FolderSourceConfig,
    SourceConfig,
    source_classes,
)
from modelfleet.naming import retrain_dag_id
from modelfleet.preprocessing import PreprocessPolicy
from modelfleet.zoo import FAMILIES

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
WORKFLOW_NAME = _NAME  # a workflow name (the CLI checks one before it reads any image)

# A workflow's schedule, checked here: one DAG file builds every workflow's DAG, and
# Airflow marks all of them stale when one of them fails to parse.
Schedule = Annotated[str, cron_schedule("0 6 1 * *", "@monthly, @weekly, @daily, @hourly")]


class Workflow(Strict):
    name: str
    source: SourceConfig
    classes: tuple[str, ...]
    input_shape: tuple[int, int, int]
    architecture: str
    schedule: Schedule = "@monthly"
    # Transfer learning: warm-start from this workflow's production weights, or reuse
    # another workflow's production convolutional base (frozen) under a new head.
    init_from: Literal["scratch", "production"] = "scratch"
    transfer_from: str | None = None
    params: TrainParams = TrainParams()
    gate: GatePolicy = GatePolicy()
    release: ReleasePolicy = ReleasePolicy()  # approval and shadow steps after the gate
    smoke: SmokePolicy = SmokePolicy()
    expectations: Expectations = Expectations()
    serving: ServingPolicy = ServingPolicy()
    ingest: IngestPolicy = IngestPolicy()
    monitor: MonitorPolicy = MonitorPolicy()  # prediction log, monitors, retrain on alert
    # how an image meets input_shape, at train, evaluate and serve time (imaging.py)
    preprocess: PreprocessPolicy = PreprocessPolicy()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"must match {_NAME.pattern}, got {value!r}")
        return value

    @field_validator("architecture")
    @classmethod
    def _architecture(cls, value: str) -> str:
        if value not in FAMILIES:
            raise ValueError(f"{value!r} is not one of {', '.join(FAMILIES)}")
        return value

    @field_validator("classes")
    @classmethod
    def _classes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) < 2:
            raise ValueError(f"needs at least 2 classes, got {len(value)}")
        if len(set(value)) != len(value):
            raise ValueError("class names must be unique")
        return value

    @field_validator("input_shape")
    @classmethod
    def _shape(cls, value: tuple[int, int, int]) -> tuple[int, int, int]:
        height, width, channels = value
        if not (8 <= height <= 1024 and 8 <= width <= 1024) or channels not in (1, 3):
            raise ValueError(
                f"expected [height, width, 1 or 3] with sides 8..1024, got {list(value)}"
            )
        return value

    @property
    def dag_id(self) -> str:
        return retrain_dag_id(self.name)

    @model_validator(mode="after")
    def _classes_match_the_data(self) -> Workflow:
        if isinstance(self.source, FolderSourceConfig):
            return self  # its label folders are checked when a month is copied (no I/O here)
        available = source_classes(self.source)
        if isinstance(self.source, DigitsSourceConfig):
            if tuple(self.classes) != available:
                raise ValueError(f"classes must be the ten digits {list(available)}")
        elif not set(self.classes) <= set(available):
            extra = sorted(set(self.classes) - set(available))
            raise ValueError(
                f"classes {extra} are not produced by the data source; it has {list(available)}"
            )
        return self

    @model_validator(mode="after")
    def _one_warm_start(self) -> Workflow:
        if self.transfer_from is not None and self.init_from != "scratch":
            raise ValueError("set either init_from: production or transfer_from, not both")
        if self.transfer_from == self.name:
            raise ValueError("transfer_from names the workflow itself; use init_from: production")
        return self
