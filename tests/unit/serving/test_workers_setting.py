"""How many endpoint processes: `MODELFLEET_ENDPOINT_WORKERS`, passed on by `modelfleet up`."""

from __future__ import annotations

import pytest

from modelfleet.errors import ConfigError
from modelfleet.serving.workers import run_workers
from modelfleet.settings import get_settings


def test_one_worker_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELFLEET_ENDPOINT_WORKERS", raising=False)
    assert get_settings().endpoint_workers == 1
    monkeypatch.setenv("MODELFLEET_ENDPOINT_WORKERS", " 2 ")
    assert get_settings().endpoint_workers == 2


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_bad_worker_count_is_named(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("MODELFLEET_ENDPOINT_WORKERS", value)
    with pytest.raises(ConfigError, match="MODELFLEET_ENDPOINT_WORKERS"):
        get_settings()


def test_run_workers_refuses_zero_before_starting_anything() -> None:
    with pytest.raises(ConfigError, match="at least 1 worker, not 0"):
        run_workers("modelfleet.serving.app:worker_app", "127.0.0.1", 1, workers=0)
