"""How many endpoint and stream classifier processes (`MODELFLEET_ENDPOINT_WORKERS`,
`MODELFLEET_INGEST_WORKERS`), passed on by `modelfleet up`."""

from __future__ import annotations

import pytest

from modelfleet.errors import ConfigError
from modelfleet.serving.workers import run_workers
from modelfleet.settings import get_settings


def test_defaults_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELFLEET_ENDPOINT_WORKERS", raising=False)
    monkeypatch.delenv("MODELFLEET_INGEST_WORKERS", raising=False)
    settings = get_settings()
    assert (settings.endpoint_workers, settings.ingest_workers) == (1, 2)
    monkeypatch.setenv("MODELFLEET_ENDPOINT_WORKERS", " 2 ")
    monkeypatch.setenv("MODELFLEET_INGEST_WORKERS", "1")
    settings = get_settings()
    assert (settings.endpoint_workers, settings.ingest_workers) == (2, 1)


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5", "²"])
@pytest.mark.parametrize("name", ["MODELFLEET_ENDPOINT_WORKERS", "MODELFLEET_INGEST_WORKERS"])
def test_a_bad_worker_count_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        get_settings()


def test_run_workers_refuses_zero_before_starting_anything() -> None:
    with pytest.raises(ConfigError, match="at least 1 worker, not 0"):
        run_workers("modelfleet.serving.app:worker_app", "127.0.0.1", 1, workers=0)


def test_the_stream_classifier_refuses_zero_workers() -> None:
    from modelfleet.ingest.run import run

    with pytest.raises(ConfigError, match="at least 1 worker, not 0"):
        run(0)


def test_several_workers_refuse_a_port_that_is_already_in_use() -> None:
    import socket

    from modelfleet.errors import PlatformError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PlatformError, match=f"cannot listen on 127.0.0.1:{port}"):
            run_workers("modelfleet.serving.app:worker_app", "127.0.0.1", port, workers=2)
