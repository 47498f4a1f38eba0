"""workflows.yaml -> typed, validated fleet configuration.

The file has a `defaults:` block that every entry under `workflows:` deep-merges
over, so an entry only states what differs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from modelfleet.errors import ConfigError, ModelfleetError
from modelfleet.naming import parse_pin, retrain_dag_id
from modelfleet.preprocessing import LEGACY, PreprocessPolicy
from modelfleet.zoo import FAMILIES

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
WORKFLOW_NAME = _NAME  # a workflow name (the CLI checks one before it reads any image)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
log = logging.getLogger("modelfleet.config")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _SourceBase(_Strict):
    start_month: str = Field(description="first month with data, YYYY-MM")
    months: int = Field(ge=1, le=120, description="how many months of data exist")
    holdout_fraction: float = Field(0.2, gt=0, lt=0.9, description="per-month holdout share")

    @field_validator("start_month")
    @classmethod
    def _month(cls, value: str) -> str:
        if not _MONTH.match(value):
            raise ValueError(f"expected YYYY-MM, got {value!r}")
        return value


class DigitsSourceConfig(_SourceBase):
    """scikit-learn's bundled 8x8 digit scans (real images, 1,797 of them)."""

    kind: Literal["sklearn_digits"]
    test_fraction: float = Field(0.2, gt=0, lt=0.9, description="frozen test set share")


class ProceduralSourceConfig(_SourceBase):
    """Generated inspection images with monthly drift (see datasets.procedural)."""

    kind: Literal["procedural"]
    generator: str
    images_per_month: int = Field(300, ge=10, le=100_000)
    test_size: int = Field(400, ge=10, le=100_000)
    drift: float = Field(1.0, ge=0, le=5)


class PackagedSourceConfig(_SourceBase):
    """Patches of images that ship inside installed packages (see datasets.packaged)."""

    kind: Literal["packaged"]
    source_images: tuple[str, ...]
    images_per_month: int = Field(300, ge=10, le=100_000)
    test_size: int = Field(400, ge=10, le=100_000)
    drift: float = Field(1.0, ge=0, le=5)


class FolderSourceConfig(_Strict):
    """Your own labelled images: a local folder or any fsspec URL (see datasets.folder).

    `<url>/<YYYY-MM>/<label>/*` or `<url>/<YYYY-MM>/{train,holdout}/<label>/*`, and the
    frozen test set at `<url>/test/<label>/*`, at `test:` (`<test>/<label>/*`), or
    carved out of the months by file hash (`test_fraction`). The months that exist are
    discovered; `start_month` and `months` only narrow them.
    """

    kind: Literal["folder"]
    url: str = Field(description="local path or fsspec URL (file://, s3://, ...)")
    test: str | None = Field(None, description="the frozen test set's own URL")
    test_fraction: float | None = Field(
        None, gt=0, lt=0.9, description="share of the months' files (by hash) kept for test"
    )
    holdout_fraction: float = Field(
        0.2, gt=0, lt=0.9, description="per-month holdout share, where a month has no holdout/"
    )
    start_month: str | None = Field(None, description="no month before this one is used")
    months: int | None = Field(None, ge=1, le=1200, description="months used from start_month")

    @field_validator("url", "test")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.strip():
            raise ValueError("must be a path or URL, got an empty string")
        scheme, sep, _ = value.partition("://")
        if sep and not _SCHEME.match(scheme):
            raise ValueError(f"{value!r} has no valid URL scheme before '://'")
        return value

    @field_validator("start_month")
    @classmethod
    def _month(cls, value: str | None) -> str | None:
        if value is not None and not _MONTH.match(value):
            raise ValueError(f"expected YYYY-MM, got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_test_set(self) -> FolderSourceConfig:
        if self.test is not None and self.test_fraction is not None:
            raise ValueError("set either test (a test set URL) or test_fraction, not both")
        if self.months is not None and self.start_month is None:
            raise ValueError("months needs start_month")
        return self


SourceConfig = Annotated[
    DigitsSourceConfig | ProceduralSourceConfig | PackagedSourceConfig | FolderSourceConfig,
    Field(discriminator="kind"),
]


def source_classes(
    source: DigitsSourceConfig | ProceduralSourceConfig | PackagedSourceConfig,
) -> tuple[str, ...]:
    """The class names a simulated source can produce (imports numpy/PIL, not TensorFlow)."""
    if isinstance(source, DigitsSourceConfig):
        return tuple(str(d) for d in range(10))
    if isinstance(source, ProceduralSourceConfig):
        from modelfleet.datasets.generators import GENERATORS

        if source.generator not in GENERATORS:
            raise ValueError(
                f"generator {source.generator!r} is not one of {', '.join(GENERATORS)}"
            )
        return tuple(GENERATORS[source.generator].classes)
    from modelfleet.datasets.packaged import SOURCE_IMAGES, default_classes

    unknown = [key for key in source.source_images if key not in SOURCE_IMAGES]
    if unknown:
        raise ValueError(f"source_images {unknown} are not among {', '.join(SOURCE_IMAGES)}")
    return default_classes(source.source_images)


class TrainParams(_Strict):
    epochs: int = Field(8, ge=1, le=500)
    batch_size: int = Field(32, ge=1, le=4096)
    learning_rate: float = Field(1e-3, gt=0, lt=1)
    seed: int = 42
    window_months: int = Field(12, ge=1, description="months of data the model trains on")


class GatePolicy(_Strict):
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


class SmokePolicy(_Strict):
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


class Expectations(_Strict):
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


class ServingPolicy(_Strict):
    """Dynamic batching at the endpoint, after TF Serving's batching parameters: a batch
    runs when it holds `max_batch_size` rows or its first request waited `batch_timeout_ms`."""

    max_batch_size: int = Field(64, ge=1, le=1024)
    batch_timeout_ms: float = Field(1.0, ge=0, le=1000)


class IngestPolicy(_Strict):
    """The stream classifier for this workflow's landing folder."""

    batch_size: int = Field(64, ge=1, le=256, description="files per endpoint request")
    max_bytes: int = Field(20_000_000, ge=1, description="larger files are quarantined")
    webhook: str | None = Field(None, description="POSTed a JSON event per file")
    reclassify_after_promotion: bool = False

    @field_validator("webhook")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value


class ApplicationSpec(_Strict):
    """A client of the endpoint declared in the file; its key comes from `modelfleet apps key`."""

    grants: dict[str, str] = Field(description="workflow -> pin (production, candidate, vX.Y.Z)")
    admin: bool = False

    @field_validator("grants")
    @classmethod
    def _pins(cls, value: dict[str, str]) -> dict[str, str]:
        for workflow, pin in value.items():
            try:
                parse_pin(pin)
            except ModelfleetError as exc:
                raise ValueError(f"{workflow}: {exc}") from None
        return value


class Workflow(_Strict):
    name: str
    source: SourceConfig
    classes: tuple[str, ...]
    input_shape: tuple[int, int, int]
    architecture: str
    schedule: str = "@monthly"
    # Transfer learning: warm-start from this workflow's production weights, or reuse
    # another workflow's production convolutional base (frozen) under a new head.
    init_from: Literal["scratch", "production"] = "scratch"
    transfer_from: str | None = None
    params: TrainParams = TrainParams()
    gate: GatePolicy = GatePolicy()
    smoke: SmokePolicy = SmokePolicy()
    expectations: Expectations = Expectations()
    serving: ServingPolicy = ServingPolicy()
    ingest: IngestPolicy = IngestPolicy()
    # how an image meets input_shape, at train, evaluate and serve time (imaging.py)
    preprocess: PreprocessPolicy = PreprocessPolicy()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"must match {_NAME.pattern}, got {value!r}")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        # Checked here: one DAG file builds every workflow's DAG, and Airflow marks all of
        # them stale when one of them fails to parse.
        from croniter import croniter

        if not croniter.is_valid(value):
            raise ValueError(
                f"{value!r} is not a cron expression (e.g. '0 6 1 * *') or one of @monthly, "
                "@weekly, @daily, @hourly"
            )
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


class ParentSpec(_Strict):
    """The model a training run starts from (its architecture must be rebuildable)."""

    workflow: str
    architecture: str
    num_classes: int
    input_shape: tuple[int, int, int]


class TrainSpec(_Strict):
    """What the DVC stages need, and all DVC tracks as params (`params.yaml` section)."""

    name: str
    architecture: str
    classes: tuple[str, ...]
    input_shape: tuple[int, int, int]
    params: TrainParams
    warm_start: Literal["none", "production", "transfer"] = "none"
    parent: ParentSpec | None = None
    # what the validate@<wf> stage checks (tags older than the stage have none)
    expectations: Expectations = Expectations()
    # tags older than the policy stretched images to the input shape
    preprocess: PreprocessPolicy = LEGACY

    def as_params(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"name"})

    @classmethod
    def from_params(cls, name: str, section: dict[str, Any]) -> TrainSpec:
        return cls(name=name, **section)


class Fleet(_Strict):
    workflows: dict[str, Workflow]
    applications: dict[str, ApplicationSpec] = {}
    # The user's workflows (workflows.d) -> the file that declares each; the rest ship
    # in workflows.yaml.
    user_workflows: dict[str, str] = {}

    @model_validator(mode="after")
    def _grants_name_workflows(self) -> Fleet:
        for name, app in self.applications.items():
            unknown = sorted(set(app.grants) - set(self.workflows))
            if unknown:
                raise ConfigError(f"application {name!r}: grants unknown workflows {unknown}")
        return self

    @model_validator(mode="after")
    def _transfer_sources_exist(self) -> Fleet:
        for wf in self.workflows.values():
            if wf.transfer_from is None:
                continue
            parent = self.workflows.get(wf.transfer_from)
            if parent is None:
                raise ConfigError(
                    f"workflow {wf.name!r}: transfer_from {wf.transfer_from!r} is not a workflow "
                    f"of the fleet ({', '.join(self.workflows)})"
                )
            if parent.input_shape != wf.input_shape:
                raise ConfigError(
                    f"workflow {wf.name!r}: transfer_from {parent.name!r} needs the same input "
                    f"shape, got {list(wf.input_shape)} vs {list(parent.input_shape)}"
                )
            if parent.transfer_from is not None:
                raise ConfigError(
                    f"workflow {wf.name!r}: transfer_from {parent.name!r}, which itself "
                    "transfers; chains are not supported"
                )
        return self

    def train_spec(self, name: str) -> TrainSpec:
        """What DVC tracks as params for workflow `name`, parent model included."""
        wf = self.get(name)
        parent, warm_start = None, "none"
        if wf.init_from == "production":
            parent, warm_start = wf, "production"
        elif wf.transfer_from is not None:
            parent, warm_start = self.get(wf.transfer_from), "transfer"
        return TrainSpec(
            name=wf.name,
            architecture=wf.architecture,
            classes=wf.classes,
            input_shape=wf.input_shape,
            params=wf.params,
            expectations=wf.expectations,
            preprocess=wf.preprocess,
            warm_start=warm_start,
            parent=None
            if parent is None
            else ParentSpec(
                workflow=parent.name,
                architecture=parent.architecture,
                num_classes=len(parent.classes),
                input_shape=parent.input_shape,
            ),
        )

    def get(self, name: str) -> Workflow:
        try:
            return self.workflows[name]
        except KeyError:
            raise ConfigError(
                f"unknown workflow {name!r}; the fleet has {', '.join(self.workflows)}"
            ) from None


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return `base` with `override` merged in, recursing into nested dicts."""
    merged = dict(base)
    for key, value in override.items():
        # A mapping of another `kind` (e.g. a different data source) replaces the default.
        if (
            isinstance(value, dict)
            and isinstance(merged.get(key), dict)
            and value.get("kind", merged[key].get("kind")) == merged[key].get("kind")
        ):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_fleet(
    raw: Any, origin: str = "workflows.yaml", user_docs: Sequence[tuple[str, Any]] = ()
) -> Fleet:
    """Validate an already-parsed fleet document, plus the user's workflow documents
    (`(origin, document)`, each `workflows:` merged over `raw`'s `defaults:`)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("workflows"), dict):
        raise ConfigError(f"{origin}: expected a mapping with a 'workflows:' mapping")
    unknown = set(raw) - {"defaults", "workflows", "applications"}
    if unknown:
        raise ConfigError(f"{origin}: unknown top-level keys {sorted(unknown)}")
    defaults = raw.get("defaults") or {}
    workflows: dict[str, Workflow] = {}
    declared_in: dict[str, str] = {}
    for doc_origin, doc in [(origin, raw), *user_docs]:
        if doc is not raw:
            _check_user_doc(doc_origin, doc)
        for name, entry in doc["workflows"].items():
            if name in declared_in:
                raise ConfigError(
                    f"{doc_origin}: workflow {name!r} is also declared in "
                    f"{declared_in[name]}; rename one of them"
                )
            workflows[name] = _parse_workflow(name, entry, defaults, doc_origin)
            declared_in[name] = doc_origin
    if not workflows:
        raise ConfigError(f"{origin}: no workflows declared")
    applications = raw.get("applications") or {}
    if not isinstance(applications, dict):
        raise ConfigError(f"{origin}: 'applications:' must be a mapping of name -> grants")
    where = ", ".join([origin, *(o for o, _ in user_docs)])
    try:
        return Fleet(
            workflows=workflows,
            applications=applications,
            user_workflows={n: o for n, o in declared_in.items() if o != origin},
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{where}: {problems}") from None
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _check_user_doc(origin: str, doc: Any) -> None:
    if not isinstance(doc, dict) or not isinstance(doc.get("workflows"), dict):
        raise ConfigError(f"{origin}: expected a mapping with a 'workflows:' mapping")
    unknown = set(doc) - {"workflows"}
    if unknown:
        raise ConfigError(
            f"{origin}: unknown top-level keys {sorted(unknown)}; a file of workflows.d holds "
            "only 'workflows:' (defaults and applications live in workflows.yaml)"
        )


def _parse_workflow(name: Any, entry: Any, defaults: dict[str, Any], origin: str) -> Workflow:
    if not isinstance(entry, dict):
        raise ConfigError(f"{origin}: workflow {name!r}: expected a mapping")
    try:
        return Workflow(name=name, **deep_merge(defaults, entry))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'entry'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"{origin}: workflow {name!r}: {problems}") from None


# libyaml's parser where PyYAML was built with it (about 9x faster on the fleet file,
# which every Airflow task parses); the constructor, and so the result, is the same.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """YAML loader that rejects duplicate keys (PyYAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(f"duplicate key {key!r} on line {key_node.start_mark.line + 1}")
            seen.add(key)
        return super().construct_mapping(node, deep)


# The last fleet loaded, by its files and their text: an Airflow task parses the DAG
# file (which loads the fleet) and then its step loads it again. Keyed by the files'
# content, so an edited file is always parsed afresh. Callers share the Fleet: it is
# frozen, and nothing changes its dicts.
_last_loaded: tuple[tuple[tuple[str, str], ...], Fleet] | None = None


def load_fleet(
    path: Path | None = None,
    user_dir: Path | None = None,
    *,
    shipped_only: bool = False,
    skip_bad_user_files: bool = False,
) -> Fleet:
    """Load and validate the fleet: the shipped file (default: settings' MODELFLEET_CONFIG)
    and the user's workflows in `user_dir/*.yaml` (default: settings' workflows.d, outside
    the checkout); `shipped_only` leaves the user's out (the checkout's rendered files).

    `skip_bad_user_files` (the DAG file, the endpoint, the stream classifier): a user's
    file that does not load, or clashes with the files before it, is left out and logged
    rather than taking the whole fleet down with it (a file edited by hand). The shipped
    file must load either way."""
    global _last_loaded
    if path is None or (user_dir is None and not shipped_only):
        from modelfleet.settings import get_settings

        settings = get_settings()
        path = settings.config_file if path is None else path
        user_dir = settings.workflows_d if user_dir is None else user_dir
    files = [Path(path), *([] if shipped_only or user_dir is None else user_files(user_dir))]
    texts = tuple((str(file), _read(file)) for file in files)
    key = (*texts, ("skip_bad_user_files", str(skip_bad_user_files)))
    if _last_loaded is not None and _last_loaded[0] == key:
        return _last_loaded[1]
    (origin, text), *users = texts
    shipped = _parse_yaml(origin, text)
    try:
        fleet = parse_fleet(shipped, origin, [(o, _parse_yaml(o, t)) for o, t in users])
    except ConfigError:
        if not skip_bad_user_files or not users:
            raise
        fleet = _without_bad_user_files(shipped, origin, users)
    _last_loaded = (key, fleet)
    return fleet


def _without_bad_user_files(shipped: Any, origin: str, users: list[tuple[str, str]]) -> Fleet:
    """The fleet with each user file that loads beside the ones kept before it."""
    kept: list[tuple[str, Any]] = []
    for user_origin, text in users:
        try:
            doc = _parse_yaml(user_origin, text)
            parse_fleet(shipped, origin, [*kept, (user_origin, doc)])
        except ConfigError as exc:
            log.error("%s is left out of the fleet until it is fixed: %s", user_origin, exc)
            continue
        kept.append((user_origin, doc))
    return parse_fleet(shipped, origin, kept)


def read_document(path: Path) -> Any:
    """A fleet file's YAML (duplicate keys refused), or ConfigError naming the file."""
    return _parse_yaml(str(path), _read(path))


def user_files(user_dir: Path) -> list[Path]:
    """The user's workflow files: `*.yaml` in `user_dir`, by name (hidden ones are not)."""
    if not user_dir.is_dir():
        return []
    return sorted(p for p in user_dir.glob("*.yaml") if not p.name.startswith("."))


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read fleet file {path}: {exc}") from None


def _parse_yaml(origin: str, text: str) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: not valid YAML: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
