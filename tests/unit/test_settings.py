"""Settings: every `MODELFLEET_*` variable read in one place, afresh on every call, with
bad values refused by name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelfleet import settings
from modelfleet.errors import ConfigError
from modelfleet.settings import (
    CHECKOUT,
    EndpointLimits,
    endpoint_limits,
    get_settings,
    serve_grpc_address,
    serve_insecure_local,
    serve_worker_count,
    warm_socket_path,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MODELFLEET_"):
            monkeypatch.delenv(name)


def test_defaults_when_nothing_is_set() -> None:
    found = get_settings()
    assert found.home == (CHECKOUT / "var").resolve()
    assert found.config_file == CHECKOUT / "workflows.yaml"
    assert found.endpoint_url == "http://127.0.0.1:8501"
    assert found.airflow_url == "http://127.0.0.1:8080"
    assert (found.executor, found.log_format, found.warm_runner) == ("local", "text", True)
    assert (found.endpoint_workers, found.ingest_workers, found.grpc_port) == (1, 2, 8500)
    assert found.database_url is None and found.api_key is None and found.actor is None
    assert found.lake_url == str(found.home / "lake")
    assert found.dvc_remote == str(found.home / "dvc-remote")
    assert endpoint_limits() == EndpointLimits()


def test_every_call_reads_the_environment_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELFLEET_HOME", "/srv/one")
    assert get_settings().home == Path("/srv/one")
    monkeypatch.setenv("MODELFLEET_HOME", "/srv/two")
    monkeypatch.setenv("MODELFLEET_ENDPOINT_URL", "http://endpoint:9000/")
    monkeypatch.setenv("MODELFLEET_LAKE_URL", "s3://lake/path")
    monkeypatch.setenv("MODELFLEET_EXECUTOR", " Celery ")
    monkeypatch.setenv("MODELFLEET_ACTOR", "  ops  ")
    found = get_settings()
    assert found.home == Path("/srv/two")
    assert found.endpoint_url == "http://endpoint:9000"
    assert found.lake_url == "s3://lake/path"
    assert (found.executor, found.actor) == ("celery", "ops")


def test_names_are_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("modelfleet_home", "/lower/case")
    assert get_settings().home == (CHECKOUT / "var").resolve()


@pytest.mark.parametrize("name", ["MODELFLEET_DATABASE_URL", "MODELFLEET_DVC_REMOTE_URL"])
def test_set_but_empty_is_unset(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "")
    monkeypatch.setenv("MODELFLEET_WARM_RUNNER", "")
    monkeypatch.setenv("MODELFLEET_SERVE_PIXEL_BUDGET_MP", "")
    found = get_settings()
    assert found.database_url is None and found.dvc_remote_url is None and found.warm_runner
    assert endpoint_limits().pixel_budget == 64_000_000


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MODELFLEET_EXECUTOR", "kubernetes", "is not one of local, celery"),
        ("MODELFLEET_LOG_FORMAT", "xml", "is not one of text, json"),
        ("MODELFLEET_WARM_RUNNER", "maybe", "must be on or off"),
        ("MODELFLEET_ENDPOINT_WORKERS", "0", "must be a whole number of at least 1"),
        ("MODELFLEET_INGEST_WORKERS", "two", "must be a whole number of at least 1"),
        ("MODELFLEET_AIRFLOW_PORT", "http", "must be a whole number"),
        ("MODELFLEET_TRAINING_SLOTS", "many", "must be a whole number"),
        ("MODELFLEET_GRPC_PORT", "70000", "must be a port number from 1 to 65535, or 0"),
        ("MODELFLEET_GRPC_PORT", "-1", "must be a port number"),
    ],
)
def test_a_bad_setting_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"^{name}=.*{message}"):
        get_settings()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MODELFLEET_SERVE_MAX_CONNECTIONS", "0", "must be a whole number of at least 1"),
        ("MODELFLEET_SERVE_HEADER_TIMEOUT_S", "0", "must be a number of seconds above 0"),
        ("MODELFLEET_SERVE_BODY_TIMEOUT_S", "forever", "must be a number of seconds above 0"),
        ("MODELFLEET_SERVE_PIXEL_BUDGET_MP", "-1", "must be a whole number of at least 1"),
        ("MODELFLEET_KEY_CACHE", "sometimes", "must be on or off"),
        ("MODELFLEET_KEY_VERIFICATIONS", "0", "must be a whole number of at least 1"),
        ("MODELFLEET_AUTH_FAILURES_PER_MIN", "-3", "must be a whole number from 0"),
    ],
)
def test_a_bad_limit_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"^{name}=.*{message}"):
        endpoint_limits()


def test_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELFLEET_SERVE_PIXEL_BUDGET_MP", "2")
    monkeypatch.setenv("MODELFLEET_SERVE_QUEUE_TIMEOUT_S", "0.5")
    monkeypatch.setenv("MODELFLEET_KEY_CACHE", "off")
    monkeypatch.setenv("MODELFLEET_KEY_VERIFICATIONS", "3")
    monkeypatch.setenv("MODELFLEET_AUTH_FAILURES_PER_MIN", "0")
    assert endpoint_limits() == EndpointLimits(
        pixel_budget=2_000_000,
        queue_timeout_s=0.5,
        key_cache=False,
        key_verifications=3,
        auth_failures_per_min=0,
    )


def test_grpc_port_zero_is_none_and_reaches_workers_as_an_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELFLEET_GRPC_PORT", "0")
    assert get_settings().grpc_port == 0
    assert serve_grpc_address() is None
    monkeypatch.setenv(settings.SERVE_GRPC_ADDRESS_ENV, "127.0.0.1:9500")
    assert serve_grpc_address() == "127.0.0.1:9500"


def test_handoffs(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (warm_socket_path(), serve_worker_count(), serve_insecure_local()) == (None, 1, False)
    monkeypatch.setenv(settings.WARM_SOCKET_ENV, "/run/warm.sock")
    monkeypatch.setenv(settings.SERVE_WORKERS_ENV, "4")
    monkeypatch.setenv(settings.SERVE_INSECURE_LOCAL_ENV, "1")
    assert (warm_socket_path(), serve_worker_count(), serve_insecure_local()) == (
        "/run/warm.sock",
        4,
        True,
    )


def test_the_stage_entry_points_hand_over_imports_no_pydantic() -> None:
    """`python -m modelfleet.training.stage` asks the warm runner first: that must stay cheap."""
    code = (
        "import sys; from modelfleet.host.warm_client import delegate_stage; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_settings')))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_openlineage_is_on_by_default_and_a_url_must_be_http(monkeypatch):

    monkeypatch.delenv("MODELFLEET_OPENLINEAGE", raising=False)
    monkeypatch.delenv("MODELFLEET_OPENLINEAGE_URL", raising=False)
    settings = get_settings()
    assert settings.openlineage and settings.openlineage_url is None
    assert settings.openlineage_transport("ingest") == {
        "type": "file",
        "log_file_path": str(settings.home / "openlineage" / "ingest.jsonl"),
        "append": True,
    }
    monkeypatch.setenv("MODELFLEET_OPENLINEAGE_URL", "marquez:5000")
    with pytest.raises(ConfigError, match="MODELFLEET_OPENLINEAGE_URL='marquez:5000'"):
        get_settings()
    monkeypatch.setenv("MODELFLEET_OPENLINEAGE_URL", "http://marquez:5000/")
    assert get_settings().openlineage_transport("airflow")["url"] == "http://marquez:5000"
    monkeypatch.setenv("MODELFLEET_OPENLINEAGE", "off")
    assert get_settings().openlineage_transport("airflow") is None
