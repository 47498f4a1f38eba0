"""Where things live: every run-time path and address, and the one place that reads the
`MODELFLEET_*` environment variables (pydantic-settings does the reading).

Environment variables (all optional):
    MODELFLEET_HOME          run-time state, default ./var in the checkout
    MODELFLEET_CONFIG        the fleet file, default <checkout>/workflows.yaml
    MODELFLEET_DATABASE_URL  lineage DB; unset means the embedded Postgres
    MODELFLEET_ENDPOINT_URL  the prediction endpoint, default http://127.0.0.1:8501
    MODELFLEET_ENDPOINT_WORKERS  endpoint processes on that port, default 1; the number of
                             cores gives the most requests/s (each loads every model)
    MODELFLEET_GRPC_PORT     the endpoint's gRPC port (KServe V2 and TF Serving's
                             PredictionService), default 8500; 0 turns gRPC off
    MODELFLEET_INGEST_WORKERS  stream classifier processes, default 2 (files are shared
                             out by a hash of their name; no TensorFlow, ~150 MB each)
    MODELFLEET_AIRFLOW_PORT  Airflow api-server port, default 8080
    MODELFLEET_LAKE_URL      the lake as an fsspec URL (s3://..., hdfs://...);
                             default $MODELFLEET_HOME/lake
    MODELFLEET_DVC_REMOTE_URL  DVC remote (e.g. s3://bucket/path, needs the `s3` extra);
                             default a local folder, $MODELFLEET_HOME/dvc-remote
    MODELFLEET_EXECUTOR      Airflow executor profile: `local` (default, LocalExecutor) or
                             `celery` (CeleryExecutor plus an `airflow celery worker`)
    MODELFLEET_WARM_RUNNER   `on` (default) or `off`: whether `up` starts the warm runner
                             that runs the tasks' dvc, gto and stage commands with their
                             imports done (modelfleet.warm); off, each starts a new process
    MODELFLEET_CELERY_BROKER_URL  the Celery broker, default redis://127.0.0.1:6379/0;
                             one Redis database per platform (the queue is a key in it)
    MODELFLEET_LOG_FORMAT    `text` (default: `<time> <level> <logger>: <message>`, one line
                             per record, control characters escaped) or `json` (one JSON
                             object per line) for `modelfleet serve` and `modelfleet ingest`
    MODELFLEET_ACTOR         who the CLI records as the actor of a rollback, approval or
                             grant when `--actor` is not given; default the login name,
                             or `uid:<n>` where the uid has none (host/identity.py)
    MODELFLEET_TRAINING_SLOTS  trainings at once (an Airflow pool); default cores / 2
    MODELFLEET_API_KEY       the admin application's key, instead of its key file
    MODELFLEET_OPENLINEAGE   `on` (default) or `off`: OpenLineage events from Airflow's
                             tasks and the stream classifier's batches
    MODELFLEET_OPENLINEAGE_URL  a Marquez-compatible server (http://host:5000) to send
                             them to; unset: JSON lines under $MODELFLEET_HOME/openlineage/
    MODELFLEET_SERVE_*, MODELFLEET_KEY_*, MODELFLEET_AUTH_FAILURES_PER_MIN
                             the endpoint's limits, per worker process (EndpointLimits)

`get_settings()` and `endpoint_limits()` read the environment afresh on every call; pydantic
comes with the first, not with this module (the stage entry point reads a handoff here).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelfleet.settings import values
from modelfleet.settings.values import LOG_FORMATS

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

CHECKOUT = Path(__file__).resolve().parents[3]
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
DEFAULT_ENDPOINT_URL = "http://127.0.0.1:8501"

# The variables' names, for the modules that set them for a process they start.
HOME_ENV = "MODELFLEET_HOME"
CONFIG_ENV = "MODELFLEET_CONFIG"
DATABASE_URL_ENV = "MODELFLEET_DATABASE_URL"
ENDPOINT_URL_ENV = "MODELFLEET_ENDPOINT_URL"
ENDPOINT_WORKERS_ENV = "MODELFLEET_ENDPOINT_WORKERS"
GRPC_PORT_ENV = "MODELFLEET_GRPC_PORT"
INGEST_WORKERS_ENV = "MODELFLEET_INGEST_WORKERS"
AIRFLOW_PORT_ENV = "MODELFLEET_AIRFLOW_PORT"
LAKE_URL_ENV = "MODELFLEET_LAKE_URL"
DVC_REMOTE_URL_ENV = "MODELFLEET_DVC_REMOTE_URL"
EXECUTOR_ENV = "MODELFLEET_EXECUTOR"
WARM_RUNNER_ENV = "MODELFLEET_WARM_RUNNER"
CELERY_BROKER_URL_ENV = "MODELFLEET_CELERY_BROKER_URL"
LOG_FORMAT_ENV = "MODELFLEET_LOG_FORMAT"
ACTOR_ENV = "MODELFLEET_ACTOR"
TRAINING_SLOTS_ENV = "MODELFLEET_TRAINING_SLOTS"
API_KEY_ENV = "MODELFLEET_API_KEY"
OPENLINEAGE_ENV = "MODELFLEET_OPENLINEAGE"
OPENLINEAGE_URL_ENV = "MODELFLEET_OPENLINEAGE_URL"
# Handoffs: what one modelfleet process tells the processes it starts.
WARM_SOCKET_ENV = "MODELFLEET_WARM_SOCKET"  # `up`: where the warm runner listens
SERVE_WORKERS_ENV = "MODELFLEET_SERVE_WORKERS"  # `serve`: how many workers it started
SERVE_INSECURE_LOCAL_ENV = "MODELFLEET_SERVE_INSECURE_LOCAL"  # `serve`: keys off on loopback
SERVE_GRPC_ADDRESS_ENV = "MODELFLEET_SERVE_GRPC_ADDRESS"  # `serve`: host:port for gRPC, or unset


@dataclass(frozen=True)
class Settings:
    home: Path
    config_file: Path
    endpoint_url: str
    airflow_port: int
    dvc_remote_url: str | None = None
    executor: str = "local"
    celery_broker_url: str = DEFAULT_BROKER_URL
    endpoint_workers: int = 1
    grpc_port: int = 8500  # 0: no gRPC
    ingest_workers: int = 2
    warm_runner: bool = True
    log_format: str = "text"
    actor: str | None = None
    database_url: str | None = None  # None: the embedded Postgres (registry/db.py)
    lake_url_setting: str | None = None  # None: the lake folder under home
    training_slots: int | None = None  # None: one per two cores (orchestration/pools.py)
    api_key: str | None = None  # None: the admin application's key file
    openlineage: bool = True
    openlineage_url: str | None = None  # None: the file transport under home

    @property
    def repo(self) -> Path:
        """The git + DVC model repository."""
        return self.home / "repo"

    @property
    def dvc_remote(self) -> str:
        return self.dvc_remote_url or str(self.home / "dvc-remote")

    @property
    def workflows_d(self) -> Path:
        """The user's own workflows (`*.yaml`), merged over the checkout's workflows.yaml
        defaults: kept outside the checkout, so an upgrade never conflicts with them."""
        return self.home / "workflows.d"

    @property
    def workspaces(self) -> Path:
        """Per-run git worktrees of the model repository: <wf>/<run>/."""
        return self.home / "workspaces"

    @property
    def serving_root(self) -> Path:
        """Exported SavedModels in TF Serving layout: <root>/<wf>/<int version>/."""
        return self.home / "serving"

    @property
    def deliveries(self) -> Path:
        """Monthly training data as stations deliver it: <wf>/<YYYY-MM>/<split>/<label>/."""
        return self.home / "deliveries"

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def lake(self) -> Path:
        return self.home / "lake"

    @property
    def lake_url(self) -> str:
        return self.lake_url_setting or str(self.lake)

    @property
    def quarantine(self) -> Path:
        """Rejected files with reasons: <wf>/<YYYY-MM>/ from training data validation,
        <wf>/<YYYY-MM-DD>/ from the stream classifier."""
        return self.home / "quarantine"

    @property
    def pgdata(self) -> Path:
        return self.home / "pg"

    @property
    def run_dir(self) -> Path:
        """Pid files and logs of the processes `modelfleet up` starts."""
        return self.home / "run"

    @property
    def warm_socket(self) -> Path:
        """Where the warm runner listens (`modelfleet.warm`)."""
        return self.run_dir / "warm.sock"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def gx_root(self) -> Path:
        """Great Expectations file context (suites, results, Data Docs)."""
        return self.home / "gx"

    @property
    def data_docs(self) -> Path:
        """Great Expectations Data Docs (static HTML), one site per workflow."""
        return self.home / "data-docs"

    @property
    def airflow_url(self) -> str:
        return f"http://127.0.0.1:{self.airflow_port}"

    @property
    def openlineage_dir(self) -> Path:
        """OpenLineage events as JSON lines, one file per emitter (the file transport)."""
        return self.home / "openlineage"

    def openlineage_transport(self, emitter: str) -> dict[str, Any] | None:
        """The OpenLineage transport config (openlineage-python's dict form) of `emitter`
        (`airflow`, `ingest`): None when off; HTTP to MODELFLEET_OPENLINEAGE_URL when set;
        else appended JSON lines in `openlineage_dir/<emitter>.jsonl` (one write per event,
        so concurrent task processes do not interleave)."""
        if not self.openlineage:
            return None
        if self.openlineage_url:
            # A short timeout and one retry: a server down or slow must not hold a task's
            # end (Airflow waits for its listener) for the client's default ~10 s.
            retry = {"total": 1, "backoff_factor": 0.2}
            return {"type": "http", "url": self.openlineage_url, "timeout": 5, "retry": retry}
        path = self.openlineage_dir / f"{emitter}.jsonl"
        return {"type": "file", "log_file_path": str(path), "append": True}


def get_settings() -> Settings:
    """Read settings from the environment, afresh on every call (about a millisecond)."""
    environment, _ = _environment_models()
    return Settings(**_read(environment, _SETTINGS_FIELDS))


@dataclass(frozen=True)
class EndpointLimits:
    """What one endpoint worker process allows at once; `modelfleet serve --workers N`
    allows N times as much. Each field's environment variable, with its default:

        MODELFLEET_SERVE_MAX_CONNECTIONS   1000  open connections; beyond, 503 and close
        MODELFLEET_SERVE_HEADER_TIMEOUT_S  10    from a request's first byte (or the
                                                 connection) to its last header; then 408
        MODELFLEET_SERVE_BODY_TIMEOUT_S    30    from the last header to the body's end
        MODELFLEET_SERVE_KEEPALIVE_TIMEOUT_S 5   idle time between requests on a connection
        MODELFLEET_SERVE_PIXEL_BUDGET_MP   64    megapixels of images decoding at once
        MODELFLEET_SERVE_QUEUE_TIMEOUT_S   5     longest wait for a key check or the pixel
                                                 budget; then 503 with Retry-After
        MODELFLEET_KEY_CACHE               on    cache verified keys (`off`: argon2 on
                                                 every request; for benchmarks)
        MODELFLEET_KEY_CACHE_TTL_S         60    how long a verified key stays cached
        MODELFLEET_KEY_VERIFICATIONS       cores per worker: argon2 checks at once
        MODELFLEET_AUTH_FAILURES_PER_MIN   10    failed key attempts per client address
                                                 and minute, then 429 (0: no limit)

    Constructing one reads nothing: `endpoint_limits()` reads the environment.
    """

    max_connections: int = 1000
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keepalive_timeout_s: float = 5.0
    pixel_budget: int = 64_000_000
    queue_timeout_s: float = 5.0
    key_cache: bool = True
    key_cache_ttl_s: float = 60.0
    key_verifications: int | None = None  # None: the cores each worker process gets
    auth_failures_per_min: int = 10


def endpoint_limits() -> EndpointLimits:
    """Read the endpoint's limits from the environment."""
    _, limits = _environment_models()
    return EndpointLimits(**_read(limits, _LIMITS_FIELDS))


# -- handoffs: read without pydantic, the stage entry point's hand-over stays light --


def warm_socket_path() -> str | None:
    """The warm runner's socket, as `modelfleet up` tells the processes it starts."""
    return os.environ.get(WARM_SOCKET_ENV) or None


def serve_worker_count() -> int:
    """How many endpoint processes `serve` started (for one worker's set-up)."""
    return int(os.environ.get(SERVE_WORKERS_ENV) or 1)


def serve_grpc_address() -> str | None:
    """Where `serve` told its workers to serve gRPC (host:port), or None for no gRPC."""
    return os.environ.get(SERVE_GRPC_ADDRESS_ENV) or None


def serve_insecure_local() -> bool:
    """Whether `serve --insecure-local` told its workers to accept loopback without keys."""
    return bool(os.environ.get(SERVE_INSECURE_LOCAL_ENV))


# Each field: its variable, its parser and its default (a callable: computed per read).
_SETTINGS_FIELDS: dict[str, tuple[str, Any, Any]] = {
    "home": (HOME_ENV, lambda _, text: Path(text).resolve(), lambda: (CHECKOUT / "var").resolve()),
    "config_file": (CONFIG_ENV, lambda _, text: Path(text), lambda: CHECKOUT / "workflows.yaml"),
    "endpoint_url": (ENDPOINT_URL_ENV, lambda _, text: text.rstrip("/"), DEFAULT_ENDPOINT_URL),
    "airflow_port": (AIRFLOW_PORT_ENV, values.integer, 8080),
    "dvc_remote_url": (DVC_REMOTE_URL_ENV, values.optional, None),
    "executor": (EXECUTOR_ENV, values.executor, "local"),
    "celery_broker_url": (CELERY_BROKER_URL_ENV, values.optional, DEFAULT_BROKER_URL),
    "endpoint_workers": (ENDPOINT_WORKERS_ENV, values.positive_int, 1),
    "grpc_port": (GRPC_PORT_ENV, values.port, 8500),
    "ingest_workers": (INGEST_WORKERS_ENV, values.positive_int, 2),
    "warm_runner": (WARM_RUNNER_ENV, values.switch, True),
    "log_format": (LOG_FORMAT_ENV, values.log_format, LOG_FORMATS[0]),
    "actor": (ACTOR_ENV, lambda _, text: text.strip() or None, None),
    "database_url": (DATABASE_URL_ENV, values.optional, None),
    "lake_url_setting": (LAKE_URL_ENV, values.optional, None),
    "training_slots": (TRAINING_SLOTS_ENV, values.integer, None),
    "api_key": (API_KEY_ENV, values.optional, None),
    "openlineage": (OPENLINEAGE_ENV, values.switch, True),
    "openlineage_url": (OPENLINEAGE_URL_ENV, values.url, None),
}
_LIMITS_FIELDS: dict[str, tuple[str, Any, Any]] = {
    "max_connections": ("MODELFLEET_SERVE_MAX_CONNECTIONS", values.positive_int, 1000),
    "header_timeout_s": ("MODELFLEET_SERVE_HEADER_TIMEOUT_S", values.seconds, 10.0),
    "body_timeout_s": ("MODELFLEET_SERVE_BODY_TIMEOUT_S", values.seconds, 30.0),
    "keepalive_timeout_s": ("MODELFLEET_SERVE_KEEPALIVE_TIMEOUT_S", values.seconds, 5.0),
    "pixel_budget": ("MODELFLEET_SERVE_PIXEL_BUDGET_MP", values.megapixels, 64_000_000),
    "queue_timeout_s": ("MODELFLEET_SERVE_QUEUE_TIMEOUT_S", values.seconds, 5.0),
    "key_cache": ("MODELFLEET_KEY_CACHE", values.switch, True),
    "key_cache_ttl_s": ("MODELFLEET_KEY_CACHE_TTL_S", values.seconds, 60.0),
    "key_verifications": ("MODELFLEET_KEY_VERIFICATIONS", values.positive_int, None),
    "auth_failures_per_min": ("MODELFLEET_AUTH_FAILURES_PER_MIN", values.count, 10),
}


def _read(model: type[BaseSettings], fields: dict[str, tuple[str, Any, Any]]) -> dict[str, Any]:
    """Each field's value: its variable's text, as pydantic-settings found it, parsed; the
    default where the variable is unset, or where its parser makes None of the text."""
    found = model().model_dump()
    values = {}
    for field, (variable, parser, default) in fields.items():
        text = found[field]
        value = None if text is None else parser(variable, text)
        if value is None and default is not None:
            value = default() if callable(default) else default
        values[field] = value
    return values


@cache
def _environment_models() -> tuple[type[BaseSettings], type[BaseSettings]]:
    """The pydantic-settings models of Settings and EndpointLimits, built on first use: each
    field reads its variable exactly (case and all) as text, or None when unset."""
    from pydantic import Field, create_model
    from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

    class Environment(BaseSettings):
        model_config = SettingsConfigDict(case_sensitive=True, frozen=True)

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (env_settings,)  # the environment alone: no .env or secret files

    def model(name: str, fields: dict[str, tuple[str, Any, Any]]) -> type[BaseSettings]:
        texts: dict[str, Any] = {
            field: (str | None, Field(default=None, validation_alias=variable))
            for field, (variable, _, _) in fields.items()
        }
        return create_model(name, __base__=Environment, **texts)

    return model("Environment", _SETTINGS_FIELDS), model("LimitsEnvironment", _LIMITS_FIELDS)
