"""Where things live. Every run-time path and address comes from here.

Environment variables (all optional):
    MODELFLEET_HOME          run-time state, default ./var in the checkout
    MODELFLEET_CONFIG        the fleet file, default <checkout>/workflows.yaml
    MODELFLEET_DATABASE_URL  lineage DB; unset means the embedded Postgres
    MODELFLEET_ENDPOINT_URL  the prediction endpoint, default http://127.0.0.1:8501
    MODELFLEET_ENDPOINT_WORKERS  endpoint processes on that port, default 1; the number of
                             cores gives the most requests/s (each loads every model)
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
    MODELFLEET_SERVE_*, MODELFLEET_KEY_*, MODELFLEET_AUTH_FAILURES_PER_MIN
                             the endpoint's limits, per worker process (EndpointLimits)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from modelfleet.errors import ConfigError

CHECKOUT = Path(__file__).resolve().parents[2]
EXECUTORS = ("local", "celery")
LOG_FORMATS = ("text", "json")
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"


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
    ingest_workers: int = 2
    warm_runner: bool = True
    log_format: str = "text"
    actor: str | None = None

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
        return os.environ.get("MODELFLEET_LAKE_URL") or str(self.lake)

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


def get_settings() -> Settings:
    """Read settings from the environment (cheap; call it where needed)."""
    home = Path(os.environ.get("MODELFLEET_HOME", CHECKOUT / "var")).resolve()
    executor = os.environ.get("MODELFLEET_EXECUTOR", "local").strip().lower() or "local"
    if executor not in EXECUTORS:
        raise ConfigError(f"MODELFLEET_EXECUTOR={executor!r} is not one of {', '.join(EXECUTORS)}")
    return Settings(
        home=home,
        config_file=Path(os.environ.get("MODELFLEET_CONFIG", CHECKOUT / "workflows.yaml")),
        endpoint_url=os.environ.get("MODELFLEET_ENDPOINT_URL", "http://127.0.0.1:8501").rstrip("/"),
        airflow_port=int(os.environ.get("MODELFLEET_AIRFLOW_PORT", "8080")),
        dvc_remote_url=os.environ.get("MODELFLEET_DVC_REMOTE_URL") or None,
        executor=executor,
        celery_broker_url=os.environ.get("MODELFLEET_CELERY_BROKER_URL") or DEFAULT_BROKER_URL,
        endpoint_workers=_positive_int("MODELFLEET_ENDPOINT_WORKERS", 1),
        ingest_workers=_positive_int("MODELFLEET_INGEST_WORKERS", 2),
        warm_runner=_switch("MODELFLEET_WARM_RUNNER", True),
        log_format=_choice("MODELFLEET_LOG_FORMAT", LOG_FORMATS),
        actor=os.environ.get("MODELFLEET_ACTOR", "").strip() or None,
    )


def _choice(name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (the first when unset)."""
    text = os.environ.get(name, "").strip().lower() or choices[0]
    if text not in choices:
        raise ConfigError(f"{name}={text!r} is not one of {', '.join(choices)}")
    return text


def _switch(name: str, default: bool) -> bool:
    text = os.environ.get(name, "").strip().lower()
    if not text:
        return default
    if text in ("on", "1", "true", "yes"):
        return True
    if text in ("off", "0", "false", "no"):
        return False
    raise ConfigError(f"{name}={text!r} must be on or off")


def _positive_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdecimal()) or int(text) < 1:
        raise ConfigError(f"{name}={text!r} must be a whole number of at least 1")
    return int(text)


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
    return EndpointLimits(
        max_connections=_positive_int("MODELFLEET_SERVE_MAX_CONNECTIONS", 1000),
        header_timeout_s=_seconds("MODELFLEET_SERVE_HEADER_TIMEOUT_S", 10.0),
        body_timeout_s=_seconds("MODELFLEET_SERVE_BODY_TIMEOUT_S", 30.0),
        keepalive_timeout_s=_seconds("MODELFLEET_SERVE_KEEPALIVE_TIMEOUT_S", 5.0),
        pixel_budget=_positive_int("MODELFLEET_SERVE_PIXEL_BUDGET_MP", 64) * 1_000_000,
        queue_timeout_s=_seconds("MODELFLEET_SERVE_QUEUE_TIMEOUT_S", 5.0),
        key_cache=_switch("MODELFLEET_KEY_CACHE", True),
        key_cache_ttl_s=_seconds("MODELFLEET_KEY_CACHE_TTL_S", 60.0),
        key_verifications=_positive_int("MODELFLEET_KEY_VERIFICATIONS", 0) or None,
        auth_failures_per_min=_count("MODELFLEET_AUTH_FAILURES_PER_MIN", 10),
    )


def _seconds(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86_400:
        raise ConfigError(f"{name}={text!r} must be a number of seconds above 0, at most 86400")
    return value


def _count(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdecimal()) or len(text) > 9:
        raise ConfigError(f"{name}={text!r} must be a whole number from 0")
    return int(text)
