"""Every name the platform gives a version, a workflow's DAGs, aliases and assets.

    semver  "v1.2.0"            <-> Version(1, 2, 0)
    tag     "digits@v1.2.0"     <-> ("digits", Version(1, 2, 0))
    int     1_002_000           <-> Version(1, 2, 0)   (TF Serving wants integer versions)
    serving <root>/digits/1002000/ <-> ("digits", 1002000)
    DAG ids "retrain__digits", "reclassify__digits" <-> "digits"
    aliases "production", "candidate" (Postgres aliases, GTO stages, grant pins)
    DAG ids "monitor__digits" <-> "digits"
    asset   "modelfleet://digits/production" (Airflow asset of a promotion)
    asset   "modelfleet://digits/drift" (Airflow asset of a monitor alert)
    UI path "/models": where Airflow's api-server mounts the Models UI
    OpenLineage (namespace "modelfleet"): datasets "digits/data/2026-02",
            "digits/data/2026-02/validated", "digits/runs/17", "digits@v1.2.0",
            "digits/predictions/2026-02-14"; jobs "retrain__digits.train", "ingest__digits"

Repository-relative paths of data and model files live here too, so that DVC
stages, training and registration agree on them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from modelfleet.errors import VersioningError

_SEMVER = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
_PART_LIMIT = 1000  # minor and patch must stay below this to fit the int encoding


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}"

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _SEMVER.match(text)
        if not match:
            raise VersioningError(f"version {text!r} is not of the form vMAJOR.MINOR.PATCH")
        return cls(*(int(part) for part in match.groups()))

    def bump_minor(self) -> Version:
        return Version(self.major, self.minor + 1, 0)

    def as_int(self) -> int:
        if self.minor >= _PART_LIMIT or self.patch >= _PART_LIMIT:
            raise VersioningError(f"{self}: minor and patch must be below {_PART_LIMIT}")
        return self.major * _PART_LIMIT**2 + self.minor * _PART_LIMIT + self.patch

    @classmethod
    def from_int(cls, number: int) -> Version:
        if number <= 0:
            raise VersioningError(f"serving version must be positive, got {number}")
        major, rest = divmod(number, _PART_LIMIT**2)
        minor, patch = divmod(rest, _PART_LIMIT)
        return cls(major, minor, patch)


FIRST_VERSION = Version(1, 0, 0)

# Aliases: Postgres holds them, GTO mirrors each as a stage of the same name.
PRODUCTION = "production"  # the version unversioned requests get by default
CANDIDATE = "candidate"  # the newest registered version
ALIASES = (PRODUCTION, CANDIDATE)

# What an application's grant may pin: an alias, or a fixed version (vX.Y.Z).
ALIAS_PINS = ALIASES
PIN_PATTERN = rf"^({'|'.join(ALIAS_PINS)}|v\d+\.\d+\.\d+)$"  # what parse_pin accepts


def parse_pin(text: str) -> str:
    if text in ALIAS_PINS:
        return text
    if not _SEMVER.match(text):
        raise VersioningError(
            f"pin {text!r} is neither an alias ({', '.join(ALIAS_PINS)}) nor a version vX.Y.Z"
        )
    return text


def tag_name(workflow: str, version: Version) -> str:
    return f"{workflow}@{version}"


def parse_tag(tag: str) -> tuple[str, Version]:
    workflow, sep, version = tag.partition("@")
    if not sep or not workflow:
        raise VersioningError(f"tag {tag!r} is not of the form <workflow>@vX.Y.Z")
    return workflow, Version.parse(version)


# Airflow: each workflow has a retrain DAG and a reclassify DAG.
RETRAIN_DAG_PREFIX = "retrain__"
RECLASSIFY_DAG_PREFIX = "reclassify__"
MONITOR_DAG_PREFIX = "monitor__"
DRIFT = "drift"


def retrain_dag_id(workflow: str) -> str:
    return f"{RETRAIN_DAG_PREFIX}{workflow}"


def reclassify_dag_id(workflow: str) -> str:
    return f"{RECLASSIFY_DAG_PREFIX}{workflow}"


def monitor_dag_id(workflow: str) -> str:
    return f"{MONITOR_DAG_PREFIX}{workflow}"


def workflow_of_dag(dag_id: str) -> str | None:
    """The workflow a modelfleet DAG belongs to (`retrain__digits` -> `digits`), or None."""
    for prefix in (RETRAIN_DAG_PREFIX, RECLASSIFY_DAG_PREFIX, MONITOR_DAG_PREFIX):
        if dag_id.startswith(prefix) and len(dag_id) > len(prefix):
            return dag_id[len(prefix) :]
    return None


def production_asset_uri(workflow: str) -> str:
    """The Airflow asset updated when a new `workflow` version passed its smoke test in
    production (reclassify DAGs may be scheduled on it)."""
    return f"modelfleet://{workflow}/{PRODUCTION}"


def drift_asset_uri(workflow: str) -> str:
    """The Airflow asset updated when `monitor__<workflow>` raised an alert (retrain__<wf>
    may be scheduled on it: monitor.retrain_on_alert)."""
    return f"modelfleet://{workflow}/{DRIFT}"


# OpenLineage: the names that make Airflow's task events and the stream's batch events
# one chain (month -> validation -> training run -> version -> predictions). A job is
# `<dag_id>.<task_id>` because that is how Airflow's provider names a task's job.
MODELS_UI_MOUNT = "/models"  # the Models UI's path in Airflow's api-server (the plugin)

LINEAGE_NAMESPACE = "modelfleet"
INGEST_JOB_PREFIX = "ingest__"
# modelfleet's custom facets are documented, one section each, in docs/openlineage.md
LINEAGE_FACET_DOCS = "https://github.com/modelfleet/modelfleet/blob/main/docs/openlineage.md"


def lineage_facet_schema(facet: str) -> str:
    """The schemaURL of custom facet `facet` ("modelfleet_dataset"): its section of the docs."""
    return f"{LINEAGE_FACET_DOCS}#{facet}"


def lineage_task_job(dag_id: str, task_id: str) -> str:
    return f"{dag_id}.{task_id}"


def lineage_month_dataset(workflow: str, month: str) -> str:
    """The month's snapshot (the output of `snapshot`)."""
    return f"{workflow}/data/{month}"


def lineage_validated_dataset(workflow: str, month: str) -> str:
    """The month's snapshot once its checks passed (the output of `validate`)."""
    return f"{lineage_month_dataset(workflow, month)}/validated"


def lineage_candidate_dataset(workflow: str, training_run_id: int) -> str:
    """The model a training run produced, before it has a version (the output of `train`)."""
    return f"{workflow}/runs/{training_run_id}"


def lineage_version_dataset(workflow: str, version: Version) -> str:
    """A registered version (the output of `register`, the model the stream classifies with)."""
    return tag_name(workflow, version)


def lineage_ingest_job(workflow: str) -> str:
    return f"{INGEST_JOB_PREFIX}{workflow}"


def lineage_predictions_dataset(workflow: str, day: str) -> str:
    """A day's lake partition of predictions (the output of a stream batch)."""
    return f"{workflow}/predictions/{day}"


def serving_dir(root: Path, workflow: str, version: Version) -> Path:
    return root / workflow / str(version.as_int())


def parse_serving_dir(path: Path) -> tuple[str, Version]:
    return path.parent.name, Version.from_int(int(path.name))


# Repository-relative paths (strings, as dvc.yaml and git see them).
DATA_SPLITS = ("train", "holdout", "test")


def data_dir(workflow: str, split: str) -> str:
    if split not in DATA_SPLITS:
        raise VersioningError(f"split {split!r} is not one of {', '.join(DATA_SPLITS)}")
    return f"data/{workflow}/{split}"


def model_dir(workflow: str) -> str:
    return f"models/{workflow}"


def _in_model_dir(name: str) -> Callable[[str], str]:
    """The path function of one file (or folder) that a workflow's stages write under
    `models/<workflow>/`: each is `models/<workflow>/<name>`."""

    def path(workflow: str) -> str:
        return f"{model_dir(workflow)}/{name}"

    return path


# The model artifact whose sha256 identifies a version. Weights only: HDF5 weights are
# byte-identical for identical training, while a `.keras` zip embeds save times. The
# architecture comes from params (zoo).
model_file = _in_model_dir("model.weights.h5")
# The model a run starts from: `parent.json` plus, if any, its weights.
parent_dir = _in_model_dir("parent")
metrics_file = _in_model_dir("metrics.json")
history_file = _in_model_dir("history.csv")  # loss and accuracy per epoch (a DVC plot)
# The validate@<wf> stage's full result (a DVC metric, not cached).
validation_file = _in_model_dir("validation.json")
# Fit time, sample count, parent used (a DVC metric, not cached).
train_info_file = _in_model_dir("train.json")
confusion_png = _in_model_dir("confusion.png")
curves_png = _in_model_dir("curves.png")


PARENT_INFO = "parent.json"
PARENT_WEIGHTS = "model.weights.h5"
