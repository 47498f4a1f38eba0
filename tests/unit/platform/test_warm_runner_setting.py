"""`MODELFLEET_WARM_RUNNER`: whether `modelfleet up` starts the warm runner and tells the
platform's processes where it listens. The stage mirror runs either way: inside the
runner, or alone without it."""

from __future__ import annotations

import pytest

from modelfleet.errors import ConfigError
from modelfleet.platform.up import STAGE_MIRROR, WARM_RUNNER, platform_env, processes
from modelfleet.settings import WARM_SOCKET_ENV as SOCKET_ENV
from modelfleet.settings import get_settings


def test_on_by_default_the_processes_learn_its_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELFLEET_WARM_RUNNER", raising=False)
    settings = get_settings()

    assert WARM_RUNNER in processes(settings)
    assert STAGE_MIRROR not in processes(settings)  # the runner hosts it
    env = platform_env(settings, "postgresql://u@h/modelfleet")
    assert env[SOCKET_ENV] == str(settings.run_dir / "warm.sock")


@pytest.mark.parametrize("value", ["off", "OFF", "0", "false"])
def test_off_starts_no_runner_and_names_no_socket(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MODELFLEET_WARM_RUNNER", value)
    monkeypatch.setenv(SOCKET_ENV, "/somewhere/else.sock")  # inherited from a caller
    settings = get_settings()

    assert WARM_RUNNER not in processes(settings)
    assert STAGE_MIRROR in processes(settings)  # aliases still reach GTO
    assert SOCKET_ENV not in platform_env(settings, "postgresql://u@h/modelfleet")


def test_a_bad_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELFLEET_WARM_RUNNER", "sometimes")
    with pytest.raises(ConfigError, match="MODELFLEET_WARM_RUNNER='sometimes' must be on or off"):
        get_settings()
