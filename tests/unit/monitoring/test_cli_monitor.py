"""`modelfleet monitor`'s usage errors (exit 2) come before any database is opened
(tests/integration/test_monitoring.py runs it against one)."""

from __future__ import annotations

import pytest

from tests.helpers.cli import usage_error


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELFLEET_HOME", str(tmp_path / "home"))


def test_an_unknown_workflow_exits_2_naming_the_fleet(capsys):
    err = usage_error(["monitor", "digitz"], capsys)
    assert "error: unknown workflow 'digitz'; the fleet has digits" in err


def test_a_bad_window_exits_2(capsys):
    err = usage_error(["monitor", "digits", "--window", "a day"], capsys)
    assert "error: --window: expected a positive duration such as '90s'" in err
