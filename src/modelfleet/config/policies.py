"""The policies a workflow declares beside its data and architecture: training
parameters, the release gate, the release steps after it (approval, shadow), the smoke
test, data expectations, serving and ingest.

Each is a frozen pydantic model with defaults; workflows.yaml's `defaults:` block and
each workflow's own entry override them field by field.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import partial
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)


class Strict(BaseModel):
    """A frozen model that refuses unknown keys (a misspelt key is an error, not ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_url(value: str | None) -> str | None:
    """`value` if it is None or an http(s) URL; else a ValueError saying what it got."""
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value


# Where a policy POSTs its events (None: nowhere, or a default the policy names).
WebhookUrl = Annotated[str | None, AfterValidator(check_url)]


def check_cron(value: str, *, example: str, presets: str) -> str:
    """`value` if it is a cron expression or an @preset; else a ValueError that shows an
    `example` expression and the `presets`."""
    from croniter import croniter

    if not croniter.is_valid(value):
        raise ValueError(
            f"{value!r} is not a cron expression (e.g. {example!r}) or one of {presets}"
        )
    return value


def cron_schedule(example: str, presets: str) -> AfterValidator:
    """The check of a schedule field (`check_cron`), with the example its errors show."""
    return AfterValidator(partial(check_cron, example=example, presets=presets))


# The schedule of monitor__<wf>, checked like a workflow's.
MonitorSchedule = Annotated[str, cron_schedule("0 * * * *", "@hourly, @daily, @weekly, @monthly")]


class TrainParams(Strict):
    epochs: int = Field(8, ge=1, le=500)
    batch_size: int = Field(32, ge=1, le=4096)
    learning_rate: float = Field(1e-3, gt=0, lt=1)
    seed: int = 42
    window_months: int = Field(12, ge=1, description="months of data the model trains on")


class GatePolicy(Strict):
    """When a candidate may replace production (see modelfleet.gates)."""

    # absolute, on the frozen test set
    min_accuracy: float = Field(0.8, ge=0, le=1)
    min_macro_f1: float = Field(0.0, ge=0, le=1)
    min_class_recall: float = Field(0.0, ge=0, le=1, description="every class's recall")
    min_test_samples: int = Field(50, ge=1)
    # against production, same frozen test set, same run
    max_accuracy_drop: float = Field(0.02, ge=0, le=1)
    max_macro_f1_drop: float = Field(0.03, ge=0, le=1)
    max_class_recall_drop: float = Field(0.2, ge=0, le=1, description="in any single class")
    min_improvement: float = Field(0.0, ge=0, le=1, description="required accuracy gain")
    # champion/challenger on this month's holdout (fresh data)
    max_holdout_loss: float = Field(0.05, ge=0, le=1)


class SmokePolicy(Strict):
    """What the live endpoint must show right after a release, or it is rolled back."""

    accuracy_tolerance: float = Field(0.05, ge=0, le=1, description="vs the evaluation")
    max_p95_latency_s: float = Field(5.0, gt=0)


# Names of the validation checks (see modelfleet.validation.checks); `warn_only` may
# downgrade any of them from failing the run to a logged warning.
CheckName = Literal[
    "min_rows",
    "labels_known",
    "all_classes_present",
    "class_share",
    "decodable",
    "shape",
    "unique_files",
    "no_test_leakage",
    "file_size",
    "brightness_drift",
    "contrast_drift",
]


class Expectations(Strict):
    """What a month of data must satisfy before it may train a model."""

    min_rows: int = Field(50, ge=1, description="new training images the month must bring")
    min_class_share: float = Field(0.0, ge=0, le=1)
    max_class_share: float = Field(1.0, ge=0, le=1)
    min_bytes: int = Field(1, ge=1)
    max_bytes: int = Field(1_000_000, ge=1)
    # Mean pixel brightness / contrast (std) in [0, 1], this month vs the previous one.
    max_brightness_shift: float = Field(0.08, gt=0, le=1)
    max_contrast_shift: float = Field(0.08, gt=0, le=1)
    # Bad files (undecodable, wrong shape, unknown label) up to this share of the month
    # are quarantined and the run goes on without them; above it the run fails.
    quarantine_ok_fraction: float = Field(0.0, ge=0, lt=1)
    warn_only: tuple[CheckName, ...] = ("contrast_drift",)

    @model_validator(mode="after")
    def _bounds(self) -> Expectations:
        if self.min_class_share > self.max_class_share:
            raise ValueError("min_class_share is above max_class_share")
        if self.min_bytes > self.max_bytes:
            raise ValueError("min_bytes is above max_bytes")
        return self


class ServingPolicy(Strict):
    """Dynamic batching at the endpoint, after TF Serving's batching parameters: a batch
    runs when it holds `max_batch_size` rows or its first request waited `batch_timeout_ms`."""

    max_batch_size: int = Field(64, ge=1, le=1024)
    batch_timeout_ms: float = Field(1.0, ge=0, le=1000)


class IngestPolicy(Strict):
    """The stream classifier for this workflow's landing folder."""

    batch_size: int = Field(64, ge=1, le=256, description="files per endpoint request")
    max_bytes: int = Field(20_000_000, ge=1, description="larger files are quarantined")
    webhook: WebhookUrl = Field(None, description="POSTed a JSON event per file")
    reclassify_after_promotion: bool = False


# A duration in workflows.yaml: a whole number and a unit, as "90s", "30m", "24h", "7d".
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> timedelta:
    """ "24h" -> timedelta(hours=24); a clear error for anything else."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) == 0:
        raise ValueError(
            f"expected a positive duration such as '90s', '30m', '24h' or '7d', got {value!r}"
        )
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class ReleasePolicy(Strict):
    """What happens between the gate and production: a person's approval (Airflow's
    human-in-the-loop step) and a shadow step. Both are off by default, so schedules,
    backfills and the year simulation run unattended."""

    # none: the gate decides alone; required: a person approves every candidate the gate
    # passed; on_reject: a person may release a candidate the gate rejected.
    approval: Literal["none", "required", "on_reject"] = "none"
    approval_timeout: Duration = timedelta(hours=24)
    # Only "reject": a release nobody looked at must never reach production on its own.
    on_timeout: Literal["reject"] = "reject"
    # Shadow release (0 = no shadow step): parsed and validated here, used by the shadow step.
    shadow_fraction: float = Field(0.0, ge=0, le=1)
    min_shadow_requests: int = Field(200, ge=1)
    min_shadow_agreement: float = Field(0.95, ge=0, le=1)
    shadow_timeout: Duration = timedelta(hours=24)

    @field_validator("on_timeout", mode="before")
    @classmethod
    def _only_reject(cls, value: object) -> object:
        if value != "reject":
            raise ValueError(
                f"only 'reject' is supported, got {value!r}: a candidate nobody approved in "
                "time must not reach production"
            )
        return value


class MonitorThresholds(Strict):
    """When a monitor raises an alert (see modelfleet.monitoring.statistics)."""

    # Population stability index of brightness and contrast against the reference
    # (10 bins on the reference's deciles): 0.1 is a small shift, 0.25 a large one.
    input_psi: float = Field(0.25, gt=0)
    # Share of logged inputs whose size or channel count the reference never saw.
    max_shape_mismatch: float = Field(0.05, ge=0, le=1)
    # Squared MMD (RBF kernel, median-distance bandwidth) between the logged and the
    # reference projected embeddings; about 0 without drift.
    feature_mmd: float = Field(0.05, gt=0)
    # PSI of the predicted class shares against those of the evaluation.
    prediction_psi: float = Field(0.2, gt=0)
    # Share of predictions whose top-1 score is below monitor.confidence_threshold.
    max_low_confidence_share: float = Field(0.3, ge=0, le=1)
    # Share of a window's inference requests the endpoint refused (4xx) or failed (5xx),
    # judged once the window counted `monitor.min_rows` requests (which requests count:
    # serving.request_tally).
    max_error_rate: float = Field(0.05, ge=0, le=1)
    # Fewer predictions (estimated: logged / sample_rate) in a window is an alert; 0: off.
    min_volume: int = Field(0, ge=0)
    # Live accuracy from people's labels, judged once `min_labelled` predictions have one.
    min_live_accuracy: float = Field(0.8, ge=0, le=1)
    min_labelled: int = Field(20, ge=1)


class MonitorPolicy(Strict):
    """The prediction log and the monitors over it (`monitor__<wf>`, `modelfleet monitor`)."""

    # Share of endpoint predictions written to the prediction log (the stream's once).
    sample_rate: float = Field(0.1, ge=0, le=1)
    schedule: MonitorSchedule = "@hourly"
    # Each report covers the `window` before its run's data-interval end.
    window: Duration = timedelta(hours=1)
    thresholds: MonitorThresholds = MonitorThresholds()
    confidence_threshold: float = Field(0.5, ge=0, le=1)
    # Below this many logged rows a window reports its figures but tests nothing (nor
    # its error rate below this many counted requests).
    min_rows: int = Field(30, ge=1)
    # Above this many logged rows a window is subsampled (uniformly, in one query).
    max_rows: int = Field(20_000, ge=100)
    # An alert's asset event starts retrain__<wf> early, at most once per this many hours.
    retrain_on_alert: bool = False
    min_hours_between_retrains: float = Field(24, ge=0)
    # POSTed each alert through the webhook outbox; None: ingest.webhook, if any.
    webhook: WebhookUrl = None
